"""Network namespaces joined to the root namespace by a veth pair.

Each :class:`Host` is one "machine" of the test topology: a namespace named ``tk9f<pid>x<n>``
with the address ``10.99.<k>.2/30`` on its end of a veth, the root end holding ``10.99.<k>.1``.
These addresses exist only inside namespaces this test run created. Names embed the creating
process id, so :func:`sweep_stale` can remove what a killed run left behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

_PREFIX = "tk9f"
_counter = itertools.count()


def run(cmd: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; raise with its stderr on failure."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete namespaces and veths left by harness runs whose process is gone."""
    removed: list[str] = []
    names = run(["ip", "netns", "list"]).stdout.split()
    links = run(["ip", "-o", "link", "show"]).stdout
    pattern = re.compile(rf"^{_PREFIX}(\d+)x\d+[a-z]?$")
    for name in {*names, *re.findall(rf"\d+: ({_PREFIX}\w+?)[@:]", links)}:
        m = pattern.match(name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        if name in names:
            _kill_inside(name)
            run(["ip", "netns", "del", name], check=False)
        else:
            run(["ip", "link", "del", name], check=False)
        removed.append(name)
    return removed


def _kill_inside(name: str) -> None:
    """SIGKILL the processes this harness left inside namespace ``name`` (its tk9 servers)."""
    for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)


def _free_subnet() -> int:
    used = set(re.findall(r"inet 10\.99\.(\d+)\.", run(["ip", "-o", "addr"]).stdout))
    start = (os.getpid() * 7) % 240 + 1
    for k in itertools.chain(range(start, 251), range(1, start)):
        if str(k) not in used:
            return k
    raise RuntimeError("no free 10.99.k.0/30 subnet")


@dataclass
class Host:
    """A namespace with one address, reachable from the root namespace."""

    name: str
    veth_root: str
    address: str
    gateway: str
    _rules: list[list[str]] = field(default_factory=list)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def iptables(self, *args: str) -> None:
        """Add an iptables rule inside the namespace (removed by :meth:`clear_rules`)."""
        run(self.exec_argv(["iptables", "-w", "-A", *args]))
        self._rules.append(list(args))

    def set_loss(self, probability: float) -> None:
        """Drop this fraction of packets in and out of the namespace (0 removes the loss)."""
        self.clear_rules()
        if probability <= 0:
            return
        p = f"{probability:.4f}"
        for chain in ("INPUT", "OUTPUT"):
            self.iptables(
                chain,
                "-o" if chain == "OUTPUT" else "-i",
                "veth0",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                p,
                "-j",
                "DROP",
            )

    def black_hole(self) -> None:
        """Silently drop every packet on the link: no RST, no FIN, connections just go quiet."""
        self.clear_rules()
        self.iptables("INPUT", "-i", "veth0", "-j", "DROP")
        self.iptables("OUTPUT", "-o", "veth0", "-j", "DROP")

    def clear_rules(self) -> None:
        """Remove every rule this harness added (the link heals)."""
        for args in reversed(self._rules):
            run(self.exec_argv(["iptables", "-w", "-D", *args]), check=False)
        self._rules.clear()

    def delete(self) -> None:
        _kill_inside(self.name)
        run(["ip", "link", "del", self.veth_root], check=False)
        run(["ip", "netns", "del", self.name], check=False)


def create_host() -> Host:
    """Make a namespace with a veth link to the root namespace and bring both ends up."""
    n = next(_counter)
    name = f"{_PREFIX}{os.getpid()}x{n}"
    k = _free_subnet()
    host = Host(name=name, veth_root=f"{name}r", address=f"10.99.{k}.2", gateway=f"10.99.{k}.1")
    try:
        run(["ip", "netns", "add", name])
        run(["ip", "link", "add", host.veth_root, "type", "veth", "peer", "name", f"{name}n"])
        run(["ip", "link", "set", f"{name}n", "netns", name])
        run(["ip", "-n", name, "link", "set", f"{name}n", "name", "veth0"])
        run(["ip", "addr", "add", f"{host.gateway}/30", "dev", host.veth_root])
        run(["ip", "link", "set", host.veth_root, "up"])
        run(["ip", "-n", name, "addr", "add", f"{host.address}/30", "dev", "veth0"])
        run(["ip", "-n", name, "link", "set", "veth0", "up"])
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        run(["ip", "-n", name, "route", "add", "default", "via", host.gateway])
    except Exception:
        host.delete()
        raise
    return host


@contextlib.contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """``count`` fresh namespaces, always deleted afterwards."""
    made: list[Host] = []
    try:
        for _ in range(count):
            made.append(create_host())
        yield made
    finally:
        for host in made:
            host.clear_rules()
            host.delete()


def is_root() -> bool:
    return os.geteuid() == 0
