"""ASGI middlewares of every server: per-instance signed session cookie and the exception catcher.

Servers install :class:`ServerMiddleware`, which does both and the request-size limit in one layer (one wrapper
of ``send`` per request instead of three); the single-purpose classes remain for apps that want one of them.
"""

import base64
import itertools
import logging
import random
import time
import traceback
import uuid
from typing import Any

import aiohttp
import itsdangerous
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from nemo_gym.config.secrets import scrubber
from nemo_gym.http.body_limit import declared_length, limited_receive, send_413
from nemo_gym.http.error_responses import MAX_DETAIL_CHARS, RepeatedErrorLog, error_status, json_bytes

logger = logging.getLogger("nemo_gym.server")
_error_log = RepeatedErrorLog(logger)
MAX_LOGGED_TRACEBACK_CHARS = 6000

SESSION_ID_KEY = "session_id"
MAX_KNOWN_COOKIES = 16384
# (secret, cookie name) -> {signed cookie value: (signed at, session)}, shared by the middlewares of one server
_known_cookies: dict[tuple[str, str], dict[bytes, tuple[float, dict[str, Any]]]] = {}


def new_session_id() -> str:
    """A random version-4 UUID for a new session.

    From the ``random`` module's generator (seeded from the OS, re-seeded in forked children) rather than a
    system call per request: the id only has to be unique, since the cookie carrying it is signed.
    """
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


class SessionMiddleware:
    """A signed, per-server-instance session cookie holding ``{"session_id": <uuid4>}``.

    Every response re-sends the cookie (as the reference's servers do), because agents take the cookies for
    their next call from the previous response. A request without a valid cookie gets a fresh session id.
    The signature uses the run's secret, so a client cannot forge another rollout's session.
    """

    def __init__(self, app: ASGIApp, secret_key: str, session_cookie: str, max_age: int = 14 * 24 * 3600) -> None:
        self.app = app
        self.cookie_name = session_cookie
        self.max_age = max_age
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self._known = _known_cookies.setdefault((secret_key, session_cookie), {})
        self._cookie_prefix = f"{session_cookie}=".encode()
        self._attributes = f"; path=/; Max-Age={max_age}; httponly; samesite=lax".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session, signed = self._load(scope)
        scope["session"] = session
        if SESSION_ID_KEY not in session:
            session[SESSION_ID_KEY] = new_session_id()
            signed = None
        initial = dict(session)

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                value = signed if signed is not None and session == initial else self._sign(session)
                if value is not None:
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"set-cookie", self._cookie_prefix + value + self._attributes),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, scope: Scope) -> tuple[dict[str, Any], bytes | None]:
        for name, value in scope.get("headers", ()):
            if name != b"cookie":
                continue
            for part in value.split(b";"):
                key, _, raw = part.strip().partition(b"=")
                raw = raw.strip(b'"')
                if key.decode(errors="replace") != self.cookie_name:
                    continue
                known = self._known.get(raw)
                if known is not None and time.time() - known[0] <= self.max_age:
                    return dict(known[1]), raw
                try:
                    payload, signed_at = self.signer.unsign(raw, max_age=self.max_age, return_timestamp=True)
                    session = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
                except (itsdangerous.BadSignature, ValueError, orjson.JSONDecodeError):
                    return {}, None
                if isinstance(session, dict):
                    self._remember(raw, signed_at.timestamp(), session)
                    return session, raw
        return {}, None

    def _sign(self, session: dict[str, Any]) -> bytes | None:
        if not session:
            return None
        # unpadded url-safe base64: no '=' so clients never quote the cookie value
        signed = self.signer.sign(base64.urlsafe_b64encode(orjson.dumps(session)).rstrip(b"="))
        self._remember(signed, time.time(), session)
        return signed

    def _remember(self, signed: bytes, signed_at: float, session: dict[str, Any]) -> None:
        """Keep a cookie value this process signed or verified, so its next use skips the HMAC check.

        Only exact values that passed (or were given) the signature are kept, so a forged cookie is always
        checked; the age limit still applies; the oldest entries go first past ``MAX_KNOWN_COOKIES``.
        """
        known = self._known
        if len(known) >= MAX_KNOWN_COOKIES:
            for stale in list(itertools.islice(known, MAX_KNOWN_COOKIES // 4)):
                del known[stale]
        known[signed] = (signed_at, dict(session))


class ExceptionMiddleware:
    """Outermost: what escapes a route becomes a short JSON-string answer; this path itself never fails.

    A value in the request that cannot be processed (an integer beyond 64 bits, a lone surrogate, a body that
    validated but cannot be serialised back) is a 422; an inner server's 4xx is passed on with its status and
    message; an inner server's 5xx or an unreachable upstream is a 502 (504 on a timeout); anything else is a
    bug of ours, logged with its traceback (rate-limited) and answered 500 with ``repr(e)``.
    """

    def __init__(self, app: ASGIApp, server_label: str) -> None:
        self.app = app
        self.server_label = server_label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise
            status, detail = self.answer(error, scope.get("path"))
            await send_json_error(send, status, detail)

    def answer(self, error: Exception, path: str | None) -> tuple[int, str]:
        """The status and (scrubbed, bounded) message this server answers for ``error`` escaping a route."""
        status, detail = self._describe(error, path)
        return status, scrubber.scrub(detail[:MAX_DETAIL_CHARS])

    def _describe(self, error: Exception, path: str | None) -> tuple[int, str]:
        mapped = error_status(error)
        if mapped is not None:
            status, message = mapped
            if isinstance(error, aiohttp.ClientResponseError):
                message = f"Hit an exception in {self.server_label} calling an inner server: {message}"
            else:
                message = f"{self.server_label}: {message}"
            _error_log.log(logging.WARNING, f"{status} {path}", "%s on %s: %s", status, path, message[:500])
            return status, message
        _error_log.log(
            logging.ERROR,
            f"500 {path} {type(error).__name__}",
            "Caught an exception in %s on %s:\n%s",
            self.server_label,
            path,
            "".join(traceback.format_exception(error))[-MAX_LOGGED_TRACEBACK_CHARS:],
        )
        return 500, repr(error)[:MAX_DETAIL_CHARS]


_access_logger: logging.Logger | None = None
_log_unsuccessful = False


def log_unsuccessful_requests() -> None:
    """Have :class:`ServerMiddleware` write uvicorn's access lines for non-200 answers only.

    uvicorn builds a log record for every request (only for a filter to drop the 200s). After this call,
    :func:`take_over_access_log` (run at application start-up, once uvicorn has set up its loggers) moves the
    ``uvicorn.access`` handlers to a logger of ours, so uvicorn writes nothing and the middleware writes the
    same lines, in the same format, for the answers that are not 200.
    """
    global _log_unsuccessful
    _log_unsuccessful = True


def take_over_access_log() -> None:
    global _access_logger
    uvicorn_access = logging.getLogger("uvicorn.access")
    if not _log_unsuccessful or _access_logger is not None or not uvicorn_access.handlers:
        return  # not asked, already done, or a custom logging setup: uvicorn keeps its access log
    own = logging.getLogger("nemo_gym.access")
    own.handlers = list(uvicorn_access.handlers)
    own.setLevel(uvicorn_access.getEffectiveLevel())
    own.propagate = False
    uvicorn_access.handlers = []
    uvicorn_access.propagate = False
    _access_logger = own


def _log_access(scope: Scope, status: int) -> None:
    if _access_logger is not None and status != 200:
        from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

        _access_logger.info(
            '%s - "%s %s HTTP/%s" %d',
            get_client_addr(scope),
            scope.get("method", ""),
            get_path_with_query_string(scope),
            scope.get("http_version", "1.1"),
            status,
        )


class ServerMiddleware:
    """Every server's one middleware: request-size limit (outermost), exception catcher, session cookie (innermost).

    Behaves as the request-size limit of :mod:`nemo_gym.http.body_limit` around :class:`ExceptionMiddleware`
    around :class:`SessionMiddleware`: a declared oversized body is a 413 at once; what escapes the app becomes
    the exception catcher's answer (without a session cookie); every other response carries the signed cookie.
    """

    def __init__(
        self, app: ASGIApp, secret_key: str, session_cookie: str, server_label: str, max_bytes: int | None
    ) -> None:
        self.app = app
        self.sessions = SessionMiddleware(app, secret_key, session_cookie)
        self.errors = ExceptionMiddleware(app, server_label)
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        if max_bytes is not None:
            length = declared_length(scope)
            if length is None:
                receive = limited_receive(receive, max_bytes)  # no declared length: count the body as it comes
            elif length > max_bytes:
                _log_access(scope, 413)
                await send_413(send, max_bytes)
                return
        sessions = self.sessions
        session, signed = sessions._load(scope)
        scope["session"] = session
        if SESSION_ID_KEY not in session:
            session[SESSION_ID_KEY] = new_session_id()
            signed = None
        initial = dict(session)
        started = False

        async def send_with_cookie(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                _log_access(scope, message["status"])
                value = signed if signed is not None and session == initial else sessions._sign(session)
                if value is not None:
                    message["headers"] = [
                        *message.get("headers", ()),
                        (b"set-cookie", sessions._cookie_prefix + value + sessions._attributes),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        except Exception as error:
            if started:
                raise
            status, detail = self.errors.answer(error, scope.get("path"))
            _log_access(scope, status)
            await send_json_error(send, status, detail)


async def send_json_error(send: Send, status: int, detail: object) -> None:
    """Answer ``status`` with ``detail`` as a JSON body (the error path's one way to write a reply)."""
    body = json_bytes(detail)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
