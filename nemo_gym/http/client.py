"""One pooled aiohttp session per process (per event loop) and ``request()`` with the retry policy.

The policy, the retryable exceptions and the process-wide settings are :mod:`nemo_gym.http.retry_policy`'s
(re-exported here for callers of the session functions).
"""

import asyncio
import atexit
import functools
import logging
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from nemo_gym.http.retry_policy import (
    DEFAULT_CONNECTOR_LIMIT,
    DEFAULT_CONNECTOR_LIMIT_PER_HOST,
    RETRYABLE_EXCEPTIONS,
    RetryPolicy,
    configure_http_client,
    default_retry_policy,
    http_client_settings,
)

logger = logging.getLogger("nemo_gym.http")

__all__ = [
    "DEFAULT_CONNECTOR_LIMIT",
    "DEFAULT_CONNECTOR_LIMIT_PER_HOST",
    "RETRYABLE_EXCEPTIONS",
    "close_global_aiohttp_session",
    "configure_http_client",
    "default_retry_policy",
    "dump_json_body",
    "get_global_aiohttp_session",
    "request",
]

_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


def get_global_aiohttp_session() -> aiohttp.ClientSession:
    """The session of the running event loop; cookies are never stored (callers pass them explicitly)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        for stale_loop in [known for known in _sessions if known.is_closed()]:
            _sessions.pop(stale_loop, None)
        settings = http_client_settings()
        connector = aiohttp.TCPConnector(
            limit=settings.connector_limit, limit_per_host=settings.connector_limit_per_host, ttl_dns_cache=300
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )
        _sessions[loop] = session
    return session


async def close_global_aiohttp_session() -> None:
    loop = asyncio.get_running_loop()
    session = _sessions.pop(loop, None)
    if session is not None and not session.closed:
        await session.close()


def _close_all_at_exit() -> None:
    for loop, session in list(_sessions.items()):
        if not session.closed and not loop.is_closed() and not loop.is_running():
            try:
                loop.run_until_complete(session.close())
            except Exception:  # exiting: nothing useful to do with a failure here
                pass
    _sessions.clear()


atexit.register(_close_all_at_exit)


# What http.cookies (and so aiohttp) sends without quoting.
_BARE_COOKIE_VALUE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]*")


def cookie_header(cookies: Any) -> str | None:
    """``name=value; ...`` for a mapping of plain string cookies whose values need no quoting, else ``None``.

    Building the header directly spares aiohttp's per-request cookie jar (a large share of a hop's CPU time).
    """
    if not isinstance(cookies, Mapping):
        return None
    parts = []
    for name, value in cookies.items():
        if not isinstance(name, str) or not isinstance(value, str) or not _BARE_COOKIE_VALUE.fullmatch(value):
            return None
        if not name or not _BARE_COOKIE_VALUE.fullmatch(name):
            return None
        parts.append(f"{name}={value}")
    return "; ".join(parts)


def dump_json_body(value: Any) -> bytes:
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_unset=True, mode="json")
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


@functools.cache
def _timeout(total_s: float | None, connect_s: float | None) -> aiohttp.ClientTimeout:
    # sock_connect, not connect: aiohttp's `connect` also counts the wait for a free pooled connection, so a
    # burst larger than the pool (16k rollouts over 1,024 connections) failed with ConnectionTimeoutError.
    return aiohttp.ClientTimeout(total=total_s, sock_connect=connect_s)


async def request(
    method: str,
    url: str,
    *,
    json: Any = None,
    policy: RetryPolicy | None = None,
    **kwargs: Any,
) -> aiohttp.ClientResponse:
    """Send with bounded retries; the last response is returned unread, whatever its status.

    Connection errors, timeouts and the policy's retry statuses are retried with exponential back-off and
    jitter, each retry logged once with its reason. When attempts run out on an exception, it is raised.
    """
    policy = policy or default_retry_policy()
    cookies = kwargs.pop("cookies", None)
    header = cookie_header(cookies) if cookies else None
    if header is not None:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Cookie"] = f"{headers['Cookie']}; {header}" if headers.get("Cookie") else header
        kwargs["headers"] = headers
    elif cookies:
        kwargs["cookies"] = cookies  # values that need quoting: aiohttp's cookie handling quotes them
    if json is not None:
        kwargs["data"] = dump_json_body(json)
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Content-Type", "application/json")
        kwargs["headers"] = headers
    if "timeout" not in kwargs:
        kwargs["timeout"] = _timeout(policy.request_timeout_s, policy.connect_timeout_s)
    session = get_global_aiohttp_session()
    attempt = 0
    while True:
        attempt += 1
        try:
            response = await session.request(method, url, **kwargs)
        except RETRYABLE_EXCEPTIONS as error:
            if attempt >= policy.max_attempts:
                raise
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        else:
            if response.status not in policy.retry_statuses or attempt >= policy.max_attempts:
                return response
            body = (await response.read())[:200]
            response.release()
            reason = f"HTTP {response.status}: {body.decode(errors='replace')}"
        delay = policy.backoff_s(attempt)
        logger.warning(
            "Retrying %s %s (attempt %d of %d failed: %s); next try in %.2fs",
            method,
            url,
            attempt,
            policy.max_attempts,
            reason,
            delay,
        )
        await asyncio.sleep(delay)
