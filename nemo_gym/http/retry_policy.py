"""The one retry policy for inter-server and upstream calls: what is retried, how often, how long each try may
take, and the back-off between tries.

- :class:`RetryPolicy` and its named variants (:meth:`RetryPolicy.for_gym_server`,
  :meth:`RetryPolicy.without_status_retries`);
- ``RETRYABLE_EXCEPTIONS``: the failures of a call that are retried (connection errors, timeouts, cut bodies);
- the process-wide default (:class:`HTTPClientSettings`), set once from the config's ``http_client`` and
  ``global_aiohttp_connector_limit*`` keys by :func:`configure_http_client` before the first request, read with
  :func:`default_retry_policy`.

Servers reach all of it through :mod:`nemo_gym.server_utils`.
"""

import asyncio
import functools
import random
from dataclasses import dataclass, field, fields
from typing import Any

import aiohttp

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520})
RETRYABLE_EXCEPTIONS = (aiohttp.ClientConnectionError, asyncio.TimeoutError, aiohttp.ClientPayloadError)
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

    @functools.lru_cache(maxsize=64)  # noqa: B019 - frozen and hashable; a handful of policies per process
    def for_gym_server(self) -> "RetryPolicy":
        """This policy for calls to another NeMo Gym server: its 502/504 is final (it already retried behind it).

        Retrying it again would multiply the attempts at every hop: a dead model endpoint would take
        ``max_attempts ** hops`` upstream calls per rollout to be reported.
        """
        return self.with_overrides(retry_statuses=self.retry_statuses - INNER_EXHAUSTED_STATUSES)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as above: called on every inter-server request
    def without_status_retries(self) -> "RetryPolicy":
        """This policy retrying only connection failures and timeouts: every HTTP answer is final.

        For calls that change state on the other side (a tool call, ``/seed_session``, ``/verify``): a 5xx may
        come after the work was done, and doing it twice is worse than reporting the failure.
        """
        return self.with_overrides(retry_statuses=[])

    @classmethod
    def from_config(cls, http_client_config: Any) -> "RetryPolicy":
        if not http_client_config:
            return cls()
        known = {item.name for item in fields(cls)}
        given = {key: value for key, value in dict(http_client_config).items() if key in known}
        return cls().with_overrides(**given)


DEFAULT_CONNECTOR_LIMIT = 100 * 1024
DEFAULT_CONNECTOR_LIMIT_PER_HOST = 1024


@dataclass(frozen=True)
class HTTPClientSettings:
    """What every call of this process uses unless it passes a policy of its own."""

    connector_limit: int = DEFAULT_CONNECTOR_LIMIT
    connector_limit_per_host: int = DEFAULT_CONNECTOR_LIMIT_PER_HOST
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_config(cls, global_config: Any) -> "HTTPClientSettings":
        """From a global config's ``http_client`` and ``global_aiohttp_connector_limit*`` keys (any mapping)."""
        get = global_config.get if hasattr(global_config, "get") else (lambda key, default=None: default)
        return cls(
            connector_limit=int(get("global_aiohttp_connector_limit", None) or DEFAULT_CONNECTOR_LIMIT),
            connector_limit_per_host=int(
                get("global_aiohttp_connector_limit_per_host", None) or DEFAULT_CONNECTOR_LIMIT_PER_HOST
            ),
            policy=RetryPolicy.from_config(get("http_client", None)),
        )


_process_settings = HTTPClientSettings()


def configure_http_client(global_config: Any) -> None:
    """Take connection limits and the retry policy from the global config (before the first request)."""
    global _process_settings
    _process_settings = HTTPClientSettings.from_config(global_config)


def http_client_settings() -> HTTPClientSettings:
    """This process's settings (the defaults until :func:`configure_http_client` is called)."""
    return _process_settings


def default_retry_policy() -> RetryPolicy:
    """The process-wide policy (``http_client`` of the config)."""
    return _process_settings.policy
