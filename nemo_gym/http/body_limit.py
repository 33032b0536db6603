"""The request-size limit of every server: a body over ``max_request_body_mb`` is answered with 413.

The limit is checked against ``Content-Length`` before anything is read, and counted while a body of unknown
length streams in, so an oversized request is never held in memory whole. Set with the global config key
``max_request_body_mb`` (MiB, default 64); ``0`` turns the limit off.
"""

from typing import Any

from fastapi import HTTPException
from starlette.types import Message, Receive, Scope, Send

from nemo_gym.http.error_responses import json_bytes

DEFAULT_MAX_REQUEST_BODY_MB = 64.0
CONFIG_KEY = "max_request_body_mb"


class RequestTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit; an HTTPException, so FastAPI answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=_message(max_bytes))


def _message(max_bytes: int) -> str:
    return f"Request body larger than the limit of {max_bytes / 2**20:g} MiB (the `{CONFIG_KEY}` config key sets it)."


def max_request_body_bytes(global_config: Any) -> int | None:
    """The limit in bytes from the global config; ``None`` when it is turned off (``0``)."""
    value = global_config.get(CONFIG_KEY) if hasattr(global_config, "get") else None
    megabytes = DEFAULT_MAX_REQUEST_BODY_MB if value is None else float(value)
    return int(megabytes * 2**20) if megabytes > 0 else None


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or ``None`` when it has none (a chunked body) or an unreadable one.

    The HTTP server frames the body by this length, so a body with a valid declared length never grows past it.
    """
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` counting the body as it streams in; raises :class:`RequestTooLarge` past ``max_bytes``."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise RequestTooLarge(max_bytes)
        return message

    return limited


async def send_413(send: Send, max_bytes: int) -> None:
    body = json_bytes({"detail": _message(max_bytes)})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
