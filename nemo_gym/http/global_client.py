"""The reference's global aiohttp client functions, over NeMo Gym's pooled sessions (:mod:`nemo_gym.http.client`).

NeMo Gym keeps one session per event loop, created on first use, so these functions configure the limits and
hand out the session of the running loop rather than holding one module-global session.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from pydantic import BaseModel

from nemo_gym.http import client as _client
from nemo_gym.http.client import DEFAULT_CONNECTOR_LIMIT, DEFAULT_CONNECTOR_LIMIT_PER_HOST
from nemo_gym.http.retry_policy import RetryPolicy

# Attempts per call under the default retry policy (the first try included).
MAX_NUM_TRIES = RetryPolicy().max_attempts

_configured = False


class GlobalAIOHTTPAsyncClientConfig(BaseModel):
    """Connection limits of the process's aiohttp client, read from the global config's top-level keys."""

    global_aiohttp_connector_limit: int = DEFAULT_CONNECTOR_LIMIT
    global_aiohttp_connector_limit_per_host: int = DEFAULT_CONNECTOR_LIMIT_PER_HOST
    global_aiohttp_client_request_debug: bool = False


def set_global_aiohttp_client(cfg: GlobalAIOHTTPAsyncClientConfig) -> aiohttp.ClientSession | None:
    """Apply ``cfg``'s limits; returns the running loop's session (None when called outside an event loop, the
    session is then made on first use). Raises RuntimeError when the client is already set up."""
    global _configured
    if is_global_aiohttp_client_setup():
        raise RuntimeError(
            "The global aiohttp client is already set up; call global_aiohttp_client_exit() first to remake it"
        )
    _client.configure_http_client(cfg.model_dump())
    _configured = True
    return _running_loop_session()


def get_global_aiohttp_client(global_config_dict: Any = None) -> aiohttp.ClientSession | None:
    """The client, set up from ``global_config_dict`` (default: this process's global config) if it is not yet."""
    if not is_global_aiohttp_client_setup():
        if global_config_dict is None:
            from nemo_gym.global_config import get_global_config_dict

            global_config_dict = get_global_config_dict()
        known = GlobalAIOHTTPAsyncClientConfig.model_fields
        values = {key: global_config_dict[key] for key in known if key in global_config_dict}
        set_global_aiohttp_client(GlobalAIOHTTPAsyncClientConfig.model_validate(values))
    return _running_loop_session()


def is_global_aiohttp_client_setup() -> bool:
    return _configured or any(not session.closed for session in _client._sessions.values())


def global_aiohttp_client_exit() -> None:
    """Close every session this process opened and forget the configuration (safe to call twice)."""
    global _configured
    _configured = False
    _client._close_all_at_exit()


def _running_loop_session() -> aiohttp.ClientSession | None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _client.get_global_aiohttp_session()
