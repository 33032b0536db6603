"""Calls to a replicated server instance: least outstanding requests, failover, and sessions kept on their replica.

An instance with ``num_replicas`` in the config runs as several replicas (see :mod:`nemo_gym.runtime.replicas`);
the head server's ``/server_instances`` lists each one with its ``url`` and ``replica_state``. ``ReplicaPool``
keeps that list fresh (every ``REFRESH_INTERVAL_S`` while calls flow) and, per call:

- a call carrying the instance's session cookie goes to the replica that created the session, while that
  replica is ready (each replica tags the sessions it creates; see ``ReplicaSessionTag``);
- any other call goes to the ready replica with the fewest calls of this process in flight;
- a replica that refuses or drops the connection is left out for ``DOWN_COOLDOWN_S`` and the call is sent to
  another replica at once, without counting as an attempt of the retry policy. Only when no replica is left
  does the retry policy's back-off apply (the list is then re-read from the head server before each attempt).
"""

import asyncio
import base64
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from nemo_gym.http.client import RETRYABLE_EXCEPTIONS, default_retry_policy, get_global_aiohttp_session, request
from nemo_gym.http.retry_policy import RetryPolicy

logger = logging.getLogger("nemo_gym.http")

REPLICA_SESSION_KEY = "_replica"
# Set by the replica's actor for the server process it starts: the URL at which clients reach this replica.
REPLICA_URL_ENV = "NEMO_GYM_REPLICA_URL"
REFRESH_INTERVAL_S = 2.0
DOWN_COOLDOWN_S = 5.0
HEAD_TIMEOUT_S = 5.0
CONNECTION_FAILURES = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def is_replicated(global_config: Any, server_name: str) -> bool:
    """True when the config gives instance ``server_name`` a ``num_replicas``."""
    try:
        level_one = global_config[server_name]
        level_two = level_one[next(iter(level_one))]
        fields = level_two[next(iter(level_two))]
        return fields.get("num_replicas") is not None
    except (KeyError, TypeError, StopIteration, AttributeError):
        return False


class NoReadyReplicaError(aiohttp.ClientConnectionError):
    """The head server lists no ready replica of the instance (a connection error to the caller)."""


class ReplicaPool:
    """The ready replicas of one instance as this process sees them, and the calls it has in flight to each."""

    def __init__(self, server_name: str, head_url: str) -> None:
        self.server_name = server_name
        self.head_url = head_url
        self.urls: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.down_until: dict[str, float] = {}
        self.fetched_at = float("-inf")
        self._refreshing = False
        self._cookie_suffix = f"___{server_name}"

    # ---- the replica list ---------------------------------------------------------------------------------
    def _apply(self, entries: Any) -> None:
        urls = [
            entry["url"]
            for entry in entries
            if isinstance(entry, dict)
            and entry.get("process_name") == self.server_name
            and entry.get("replica_state") == "ready"
            and entry.get("url")
        ]
        self.urls = urls
        self.down_until = {url: until for url, until in self.down_until.items() if url in urls}
        self.fetched_at = time.monotonic()

    async def refresh(self, force: bool = False) -> None:
        """Re-read the list from the head server when stale (or ``force``); on failure the old list stays."""
        if not force and (self._refreshing or time.monotonic() - self.fetched_at < REFRESH_INTERVAL_S):
            return
        self._refreshing = True
        try:
            session = get_global_aiohttp_session()
            timeout = aiohttp.ClientTimeout(total=HEAD_TIMEOUT_S)
            async with session.get(f"{self.head_url}/server_instances", timeout=timeout) as response:
                response.raise_for_status()
                self._apply(orjson.loads(await response.read()))
        except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError) as error:
            logger.warning("replicas of %r: head server %s not answering (%s)", self.server_name, self.head_url, error)
            self.fetched_at = time.monotonic()
        finally:
            self._refreshing = False

    def any_url(self) -> str | None:
        """A ready replica's URL for synchronous callers (``base_url``, ``poll_for_status``)."""
        if not self.urls or time.monotonic() - self.fetched_at >= REFRESH_INTERVAL_S:
            try:
                response = httpx.get(f"{self.head_url}/server_instances", timeout=HEAD_TIMEOUT_S)
                response.raise_for_status()
                self._apply(response.json())
            except (httpx.HTTPError, ValueError):
                pass
        return self.choose(None)

    # ---- choosing ---------------------------------------------------------------------------------------------
    def choose(self, preferred: str | None) -> str | None:
        now = time.monotonic()
        live = [url for url in self.urls if self.down_until.get(url, 0.0) <= now]
        if preferred is not None and preferred in live:
            return preferred
        if not live:
            return None
        fewest = min(self.in_flight.get(url, 0) for url in live)
        return random.choice([url for url in live if self.in_flight.get(url, 0) == fewest])

    def session_replica(self, cookies: Any) -> str | None:
        """The replica that created the session in this instance's cookie, if the call carries one."""
        if not cookies:
            return None
        items = cookies.items() if isinstance(cookies, Mapping) else cookies
        for name, value in items:
            if str(name).endswith(self._cookie_suffix):
                return replica_of_cookie(getattr(value, "value", value))
        return None

    # ---- calling ------------------------------------------------------------------------------------------
    async def request(
        self, method: str, url_path: str, policy: RetryPolicy | None = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """``nemo_gym.http.client.request`` over the replicas (see the module docstring for the routing)."""
        policy = policy or default_retry_policy()
        single = policy.with_overrides(max_attempts=1)
        preferred = self.session_replica(kwargs.get("cookies"))
        attempt = failovers = 0
        while True:
            await self.refresh(force=not self.urls)
            url = self.choose(preferred)
            if url is None:
                await self.refresh(force=True)
                url = self.choose(preferred)
            if url is None:
                error: BaseException = NoReadyReplicaError(f"no ready replica of server {self.server_name!r}")
                response = None
            else:
                self.in_flight[url] = self.in_flight.get(url, 0) + 1
                try:
                    response = await request(method, url + url_path, policy=single, **kwargs)
                except RETRYABLE_EXCEPTIONS as raised:
                    error, response = raised, None
                    if isinstance(raised, CONNECTION_FAILURES):
                        self.down_until[url] = time.monotonic() + DOWN_COOLDOWN_S
                        if failovers < len(self.urls):
                            failovers += 1
                            logger.warning("replica %s of %r not answering (%s); using another", url,
                                           self.server_name, type(raised).__name__)  # fmt: skip
                            continue
                finally:
                    self.in_flight[url] -= 1
            attempt += 1
            if response is not None:
                if response.status not in policy.retry_statuses or attempt >= policy.max_attempts:
                    return response
                response.release()
                reason = f"HTTP {response.status}"
            elif attempt >= policy.max_attempts:
                raise error
            else:
                reason = f"{type(error).__name__}: {error}"
            failovers = 0
            delay = policy.backoff_s(attempt)
            logger.warning("Retrying %s %s on %r (attempt %d of %d failed: %s); next try in %.2fs", method,
                           url_path, self.server_name, attempt, policy.max_attempts, reason, delay)  # fmt: skip
            await asyncio.sleep(delay)


def replica_of_cookie(value: Any) -> str | None:
    """The ``_replica`` of a signed session cookie value (read without checking the signature: routing only)."""
    try:
        payload = str(value).strip('"').split(".", 1)[0].encode()
        session = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    replica = session.get(REPLICA_SESSION_KEY) if isinstance(session, dict) else None
    return replica if isinstance(replica, str) else None


class ReplicaSessionTag:
    """Inside a replica: marks every session as this replica's, so that calls carrying its cookie come back here.

    Sits inside the session middleware; a session that arrives from another (gone) replica is re-tagged.
    """

    def __init__(self, app: ASGIApp, replica_url: str) -> None:
        self.app = app
        self.replica_url = replica_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if session is not None and session.get(REPLICA_SESSION_KEY) != self.replica_url:
            session[REPLICA_SESSION_KEY] = self.replica_url
        await self.app(scope, receive, send)


def install_replica_session_tag(app: Any) -> None:
    """Add ``ReplicaSessionTag`` when this process is a replica (call before adding the session middleware)."""
    import os

    replica_url = os.environ.get(REPLICA_URL_ENV)
    if replica_url:
        app.add_middleware(ReplicaSessionTag, replica_url=replica_url)
