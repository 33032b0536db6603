"""Per-session counters with bounded lifetime: dropped after verify, after an idle time, or when over capacity."""

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

logger = logging.getLogger(__name__)


class CounterStore:
    """``session_id -> count``, least recently used first, so expiry only ever looks at the front.

    Every access refreshes a session and sweeps the sessions idle for longer than ``idle_timeout_s``: the cost is
    proportional to what is evicted, and memory is bounded by the sessions active within one idle period (and by
    ``max_sessions`` in any case).
    """

    def __init__(
        self, idle_timeout_s: float | None, max_sessions: int | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: str) -> bool:
        self._sweep()
        return session_id in self._entries

    def seed(self, session_id: str, count: int) -> None:
        """Start a session at ``count``; a session that already exists keeps its value (seeding is idempotent)."""
        self._sweep()
        current = self._entries.get(session_id)
        self._touch(session_id, count if current is None else current[0])

    def add(self, session_id: str, amount: int) -> int:
        """Add to a session's count (a missing session starts at 0) and return the new count."""
        count = self.get(session_id) + amount
        self._touch(session_id, count)
        return count

    def get(self, session_id: str) -> int:
        """The session's count; a missing session is created at 0."""
        self._sweep()
        current = self._entries.get(session_id)
        count = 0 if current is None else current[0]
        self._touch(session_id, count)
        return count

    def pop(self, session_id: str) -> int | None:
        """Remove a session and return its count (None if it does not exist)."""
        self._sweep()
        entry = self._entries.pop(session_id, None)
        return None if entry is None else entry[0]

    def _touch(self, session_id: str, count: int) -> None:
        self._entries[session_id] = (count, self.clock())
        self._entries.move_to_end(session_id)
        if self.max_sessions is not None and len(self._entries) > self.max_sessions:
            evicted, _ = self._entries.popitem(last=False)
            logger.warning("More than %d sessions: evicted the least recently used (%s)", self.max_sessions, evicted)

    def _sweep(self) -> None:
        if self.idle_timeout_s is None or not self._entries:
            return
        cutoff = self.clock() - self.idle_timeout_s
        while self._entries:
            session_id, (_, last_used) = next(iter(self._entries.items()))
            if last_used > cutoff:
                break
            del self._entries[session_id]
