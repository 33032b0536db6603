"""The one retry policy for inter-server and upstream calls: per-call timeout, bounded attempts, back-off."""

import random
from dataclasses import dataclass, field, fields
from typing import Any

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520})
# A 502/504 from one of our own servers means the retries behind it (its upstream, its inner servers) are spent.
INNER_EXHAUSTED_STATUSES = frozenset({502, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Connection errors, timeouts, 429 ("try again later") and 5xx are retried; other 4xx are returned at once.

    Configured globally with the ``http_client`` key, e.g. ``+http_client.max_attempts=5``.
    """

    max_attempts: int = 3
    request_timeout_s: float | None = 1800.0
    connect_timeout_s: float | None = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    jitter: float = 0.5
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def backoff_s(self, attempt: int) -> float:
        """Sleep before attempt ``attempt + 1`` (``attempt`` counts from 1): exponential with jitter."""
        base = min(self.backoff_max_s, self.backoff_initial_s * (2 ** (attempt - 1)))
        return base * (1 - self.jitter + self.jitter * random.random())

    def with_overrides(self, **overrides: Any) -> "RetryPolicy":
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values.update({key: value for key, value in overrides.items() if value is not None})
        if "retry_statuses" in overrides and overrides["retry_statuses"] is not None:
            values["retry_statuses"] = frozenset(overrides["retry_statuses"])
        return RetryPolicy(**values)

    def for_gym_server(self) -> "RetryPolicy":
        """This policy for calls to another NeMo Gym server: its 502/504 is final (it already retried behind it).

        Retrying it again would multiply the attempts at every hop: a dead model endpoint would take
        ``max_attempts ** hops`` upstream calls per rollout to be reported.
        """
        return self.with_overrides(retry_statuses=self.retry_statuses - INNER_EXHAUSTED_STATUSES)

    @classmethod
    def from_config(cls, http_client_config: Any) -> "RetryPolicy":
        if not http_client_config:
            return cls()
        known = {item.name for item in fields(cls)}
        given = {key: value for key, value in dict(http_client_config).items() if key in known}
        return cls().with_overrides(**given)
