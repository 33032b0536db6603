"""Public face of the HTTP layer (the reference's ``nemo_gym.server_utils``).

The implementation lives in :mod:`nemo_gym.http` (client, retry policy, server base, middlewares),
:mod:`nemo_gym.bootstrap` (a server process's start-up and its Ray connection) and :mod:`nemo_gym.runtime`
(the head server).
"""

from nemo_gym.bootstrap.ray_connection import ensure_ray_initialized, initialize_ray
from nemo_gym.config.ports import DEFAULT_HEAD_SERVER_PORT
from nemo_gym.config.schema import BaseServerConfig
from nemo_gym.global_config import HEAD_SERVER_KEY_NAME
from nemo_gym.http.client import (
    close_global_aiohttp_session,
    configure_http_client,
    get_global_aiohttp_session,
    request,
)
from nemo_gym.http.error_responses import RepeatedErrorLog
from nemo_gym.http.global_client import (
    MAX_NUM_TRIES,
    GlobalAIOHTTPAsyncClientConfig,
    get_global_aiohttp_client,
    global_aiohttp_client_exit,
    is_global_aiohttp_client_setup,
    set_global_aiohttp_client,
)
from nemo_gym.http.middleware import SESSION_ID_KEY
from nemo_gym.http.retry_policy import RETRYABLE_EXCEPTIONS, RetryPolicy, default_retry_policy
from nemo_gym.http.server_base import BaseServer, SimpleServer, is_nemo_gym_fastapi_worker
from nemo_gym.http.server_client import ServerClient, ServerStatus, get_response_json, raise_for_status
from nemo_gym.http.server_settings import (
    IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME,
    ProfilingMiddlewareConfig,
    ProfilingMiddlewareInputConfig,
    UvicornLoggingConfig,
    set_is_nemo_gym_fastapi_worker,
)
from nemo_gym.ray_tasks import await_ray_task
from nemo_gym.runtime.display_config import ServerInstanceDisplayConfig
from nemo_gym.runtime.head_server import HeadServer

__all__ = [
    "DEFAULT_HEAD_SERVER_PORT",
    "HEAD_SERVER_KEY_NAME",
    "IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME",
    "MAX_NUM_TRIES",
    "RETRYABLE_EXCEPTIONS",
    "SESSION_ID_KEY",
    "BaseServer",
    "BaseServerConfig",
    "GlobalAIOHTTPAsyncClientConfig",
    "HeadServer",
    "ProfilingMiddlewareConfig",
    "ProfilingMiddlewareInputConfig",
    "RepeatedErrorLog",
    "RetryPolicy",
    "ServerClient",
    "ServerInstanceDisplayConfig",
    "ServerStatus",
    "SimpleServer",
    "UvicornLoggingConfig",
    "await_ray_task",
    "close_global_aiohttp_session",
    "configure_http_client",
    "default_retry_policy",
    "ensure_ray_initialized",
    "get_global_aiohttp_client",
    "get_global_aiohttp_session",
    "get_response_json",
    "global_aiohttp_client_exit",
    "initialize_ray",
    "is_global_aiohttp_client_setup",
    "is_nemo_gym_fastapi_worker",
    "raise_for_status",
    "request",
    "set_global_aiohttp_client",
    "set_is_nemo_gym_fastapi_worker",
]
