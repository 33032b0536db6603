"""Public face of the HTTP layer (the reference's ``nemo_gym.server_utils``)."""

from nemo_gym.config.ports import DEFAULT_HEAD_SERVER_PORT
from nemo_gym.http.client import (
    close_global_aiohttp_session,
    configure_http_client,
    get_global_aiohttp_session,
    request,
)
from nemo_gym.http.middleware import SESSION_ID_KEY
from nemo_gym.http.retry_policy import RetryPolicy
from nemo_gym.http.server_base import BaseServer, SimpleServer, is_nemo_gym_fastapi_worker
from nemo_gym.http.server_client import ServerClient, ServerStatus, get_response_json, raise_for_status

__all__ = [
    "DEFAULT_HEAD_SERVER_PORT",
    "SESSION_ID_KEY",
    "BaseServer",
    "RetryPolicy",
    "ServerClient",
    "ServerStatus",
    "SimpleServer",
    "close_global_aiohttp_session",
    "configure_http_client",
    "get_global_aiohttp_session",
    "get_response_json",
    "is_nemo_gym_fastapi_worker",
    "raise_for_status",
    "request",
]
