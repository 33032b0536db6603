"""Stop a collection that cannot succeed: a run of identical connection failures means a server is down.

A rollout that fails because something did not answer (no HTTP status, or 502/503/504: a server or the model
endpoint behind it is unreachable) counts towards the run; any success, or a failure of another kind, resets
it. When ``limit`` failures in a row carry the same message (numbers aside), the collector stops dispatching new
rows; the output stays resumable (``+resume=true`` picks up every row not yet written).
"""

import re

DEFAULT_MAX_CONSECUTIVE_CONNECTION_FAILURES = 20
CONNECTION_FAILURE_STATUSES = frozenset({502, 503, 504})
_NUMBERS = re.compile(r"\d+")


def is_connection_failure(status: int | None) -> bool:
    return status is None or status in CONNECTION_FAILURE_STATUSES


class ConnectionFailureRun:
    """Counts identical connection failures in a row; ``tripped`` once ``limit`` is reached (``None``: never)."""

    def __init__(self, limit: int | None = DEFAULT_MAX_CONSECUTIVE_CONNECTION_FAILURES) -> None:
        self.limit = limit if limit and limit > 0 else None
        self.count = 0
        self._signature: tuple[int | None, str] | None = None
        self.tripped = False
        self._reason: str | None = None

    def success(self) -> None:
        self.count = 0
        self._signature = None

    def failure(self, message: str, status: int | None) -> bool:
        """Record a failed rollout; True the first time the run reaches the limit."""
        if not is_connection_failure(status):
            self.success()
            return False
        signature = (status, _NUMBERS.sub("#", message[:500]))
        self.count = self.count + 1 if signature == self._signature else 1
        self._signature = signature
        if self.limit is not None and not self.tripped and self.count >= self.limit:
            self.tripped = True
            self._reason = (
                f"Stopped after {self.count} rollouts in a row failed the same way: {_one_line(message)}. Fix the "
                "cause and run again with +resume=true to collect the rest (+max_consecutive_connection_failures "
                "sets the limit, 0 never stops)."
            )
            return True
        return False

    def reason(self) -> str:
        """The one-line reason, as it was when the run reached the limit."""
        return self._reason or ""


def _one_line(message: str, limit: int = 320) -> str:
    """The message on one line; a long one keeps its start (who failed) and its end (the root cause)."""
    text = " ".join(message.split())
    return text if len(text) <= limit else f"{text[:100]} ... {text[-(limit - 105) :]}"
