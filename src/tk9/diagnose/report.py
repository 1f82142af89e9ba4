"""The diagnosis report: one verdict per check, printed as plain text."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass
class CheckResult:
    """The outcome of one check: a one-line summary, the facts behind it, and the fix."""

    name: str
    verdict: Verdict
    summary: str
    details: list[str] = field(default_factory=list)
    fix: str | None = None


@dataclass
class Report:
    url: str
    results: list[CheckResult] = field(default_factory=list)

    def add(self, result: CheckResult) -> CheckResult:
        self.results.append(result)
        return result

    @property
    def failed(self) -> bool:
        return any(r.verdict is Verdict.FAIL for r in self.results)

    def render(self) -> str:
        """Plain text, stable enough to paste into a bug report or the docs."""
        width = max((len(r.name) for r in self.results), default=10)
        lines = [f"tk9 diagnose {self.url}", ""]
        for r in self.results:
            lines.append(f"[{r.verdict.value}] {r.name.ljust(width)}  {r.summary}")
            lines.extend(f"       {' ' * width}  - {d}" for d in r.details)
            if r.fix and r.verdict in (Verdict.FAIL, Verdict.WARN):
                lines.append(f"       {' ' * width}  fix: {r.fix}")
        counts = {v: sum(r.verdict is v for r in self.results) for v in Verdict}
        lines += [
            "",
            "result: "
            + ("FAILED" if self.failed else "OK")
            + f" ({counts[Verdict.PASS]} pass, {counts[Verdict.WARN]} warn, "
            f"{counts[Verdict.FAIL]} fail, {counts[Verdict.SKIP]} skipped)",
        ]
        return "\n".join(lines)
