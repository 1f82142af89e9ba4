"""``tk9 diagnose``: checks a deployment through its public URL — health, WebSocket upgrade,
heartbeat round trip, resume from an old cursor, SSE buffering, and the proxy's idle timeout
against the heartbeat — and prints a verdict per check with the fix."""

from tk9.diagnose.command import diagnose_command, run_diagnosis
from tk9.diagnose.report import CheckResult, Report, Verdict

__all__ = ["CheckResult", "Report", "Verdict", "diagnose_command", "run_diagnosis"]
