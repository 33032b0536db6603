"""What a server answers and logs when a request fails. The error path itself never fails and stays small.

- ``json_bytes`` encodes any value, including the integers beyond 64 bits and lone surrogates that a request
  may carry and that ``orjson`` refuses.
- ``validation_error_content`` is the 422 body: one entry per problem (at most ``MAX_ERRORS_SHOWN``), each
  quoting at most ``MAX_INPUT_CHARS`` of the offending input, never the whole request.
- ``error_status`` maps an exception that escaped a route to the status it deserves: 422 when the request holds a
  value that cannot be processed, the inner server's 4xx when it rejected what we forwarded (its body is the
  message), 502/504 when a server or upstream we depend on failed or did not answer; ``None`` (a 500) is left
  for real bugs.
- ``RepeatedErrorLog`` logs the first few errors of each kind per minute and counts the rest.
"""

import asyncio
import json
import logging
import reprlib
import threading
import time
from typing import Any

import aiohttp
import orjson
from pydantic_core import PydanticSerializationError
from starlette.exceptions import HTTPException

MAX_ERRORS_SHOWN = 20
MAX_INPUT_CHARS = 200
MAX_LOGGED_BODY_CHARS = 300
MAX_DETAIL_CHARS = 2000
# Statuses an inner server may answer that are the caller's to fix; 401/403/407 mean *our* credentials are
# wrong, which is a fault of the deployment (502), not of the request.
_CALLER_STATUSES_NOT_PASSED = frozenset({401, 403, 407})

_short = reprlib.Repr()
_short.maxlevel = 2
_short.maxdict = 4
_short.maxlist = 4
_short.maxtuple = 4
_short.maxset = 4
_short.maxstring = 60
_short.maxother = 60
_short.maxlong = 40


def short_repr(value: Any, limit: int = MAX_INPUT_CHARS) -> str:
    """A bounded description of ``value`` that never walks or copies more than a few items of it."""
    try:
        text = _short.repr(value)
    except Exception:  # a value whose repr fails is still described
        text = f"<{type(value).__name__}>"
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_bytes(value: Any) -> bytes:
    """JSON for any value: orjson when it can, else the standard library (big integers; lone surrogates -> '?')."""
    try:
        return orjson.dumps(value, default=str)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, default=str, ensure_ascii=False).encode("utf-8", errors="replace")


def validation_error_content(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The 422 body (``{"detail": [...]}`` as FastAPI shapes it) with each ``input`` cut to a short text."""
    detail = []
    for error in errors[:MAX_ERRORS_SHOWN]:
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [
                part if isinstance(part, int) and abs(part) < 2**53 else str(part) for part in error.get("loc", ())
            ],
            "msg": str(error.get("msg", ""))[:MAX_INPUT_CHARS],
        }
        if "input" in error:
            item["input"] = _bounded_input(error["input"])
        if error.get("ctx"):
            item["ctx"] = {str(key): short_repr(value, 100) for key, value in error["ctx"].items()}
        detail.append(item)
    if len(errors) > MAX_ERRORS_SHOWN:
        detail.append({"type": "truncated", "loc": [], "msg": f"{len(errors) - MAX_ERRORS_SHOWN} more errors"})
    return {"detail": detail}


def _bounded_input(value: Any) -> Any:
    """The offending input itself when it is small, else a short description of it (never the whole body)."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else short_repr(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_INPUT_CHARS else value[: MAX_INPUT_CHARS - 3] + "..."
    described = short_repr(value)
    return value if "..." not in described and len(described) < MAX_INPUT_CHARS else described


def describe_errors_for_log(errors: list[dict[str, Any]]) -> str:
    """``loc: msg`` of the first few problems, for one log line."""
    parts = [f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}" for error in errors[:5]]
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    text = "; ".join(parts)
    return (text if len(text) <= 600 else text[:597] + "...") + more


def _is_unprocessable_value(error: BaseException) -> bool:
    if isinstance(error, PydanticSerializationError | orjson.JSONEncodeError | OverflowError):
        return True
    if isinstance(error, UnicodeError):
        return True
    # orjson and json raise plain TypeError/ValueError for values they cannot encode
    text = str(error)
    return isinstance(error, TypeError | ValueError) and (
        "64-bit" in text or "surrogate" in text or "not JSON serializable" in text or "Circular reference" in text
    )


def error_status(error: BaseException) -> tuple[int, str] | None:
    """``(status, message)`` for an exception a route let escape, or ``None`` when it is a bug of ours (500)."""
    if isinstance(error, HTTPException):  # e.g. the request-size limit hit outside a route's body parsing
        return error.status_code, str(error.detail)
    status = getattr(error, "status", None)
    if isinstance(error, aiohttp.ClientResponseError) and isinstance(status, int):
        content = getattr(error, "response_content", None)
        text = (
            repr(content[:MAX_DETAIL_CHARS]) if isinstance(content, bytes) else str(error.message)[:MAX_DETAIL_CHARS]
        )
        if 400 <= status < 500 and status not in _CALLER_STATUSES_NOT_PASSED:
            return status, text
        return 502, text
    if isinstance(error, aiohttp.ClientConnectionError):
        return 502, f"an inner server or upstream did not answer: {type(error).__name__}: {error}"
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return 504, f"an inner server or upstream timed out: {type(error).__name__}"
    if _is_unprocessable_value(error):
        return 422, (
            f"The request holds a value that cannot be processed ({type(error).__name__}: {str(error)[:300]}). "
            "Integers must fit in 64 bits and strings must be valid Unicode."
        )
    return None


class RepeatedErrorLog:
    """Logs at most ``burst`` errors of each kind per ``window_s`` seconds; says how many it left out."""

    def __init__(self, logger: logging.Logger, burst: int = 5, window_s: float = 60.0) -> None:
        self.logger = logger
        self.burst = burst
        self.window_s = window_s
        self._lock = threading.Lock()
        self._windows: dict[str, list[float | int]] = {}  # kind -> [window start, logged, suppressed]

    def log(self, level: int, kind: str, message: str, *args: Any) -> bool:
        """Log unless this kind has used its budget in the current window; True when it was logged."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(kind)
            suppressed = 0
            if window is None or now - window[0] >= self.window_s:
                suppressed = int(window[2]) if window is not None else 0
                window = [now, 0, 0]
                self._windows[kind] = window
            if window[1] >= self.burst:
                window[2] += 1
                return False
            window[1] += 1
        if suppressed:
            self.logger.log(level, "%d more errors of kind %r were not logged in the last window", suppressed, kind)
        self.logger.log(level, message, *args)
        return True
