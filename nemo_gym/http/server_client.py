"""``ServerClient``: call another server of the run by its instance name."""

import json as jsonlib
from typing import Any, Literal

import aiohttp
import httpx
import orjson
import yaml
from omegaconf import OmegaConf
from pydantic import BaseModel, ConfigDict, PrivateAttr

from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.config.shape import head_server_config_from, instance_fields
from nemo_gym.errors import NeMoGymError
from nemo_gym.http.client import request
from nemo_gym.http.replica_routing import ReplicaPool, is_replicated
from nemo_gym.http.retry_policy import RetryPolicy

ServerStatus = Literal["success", "connection_error", "timeout", "unknown_error"]


class HeadServerUnreachableError(NeMoGymError, ValueError):
    """No head server answers where the config says it is (a ValueError, as the reference raises)."""


class UnknownServerError(NeMoGymError, KeyError):
    def __str__(self) -> str:  # KeyError would add quotes
        return self.args[0]


class ServerClient(BaseModel):
    """Resolves ``server_name`` to ``http://host:port`` through the config it is handed (``global_config_dict``);
    no cookies are kept."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    head_server_config: HeadServerConfig
    global_config_dict: Any

    _base_urls: dict[str, str] = PrivateAttr(default_factory=dict)
    _replica_pools: dict[str, ReplicaPool | None] = PrivateAttr(default_factory=dict)

    @classmethod
    def load_head_server_config(cls, global_config: Any = None) -> HeadServerConfig:
        """The head server's address from ``global_config`` (default: this process's global config)."""
        if global_config is None:
            from nemo_gym.global_config import get_global_config_dict

            global_config = get_global_config_dict()
        return head_server_config_from(global_config)

    @classmethod
    def load_from_global_config(cls, head_server_config: HeadServerConfig | None = None) -> "ServerClient":
        """Build a client from a running head server (how trainers and ng_collect_rollouts attach)."""
        head = head_server_config or cls.load_head_server_config()
        if not isinstance(head, HeadServerConfig):  # a BaseServerConfig or a {host, port} mapping
            head = HeadServerConfig.model_validate(head, from_attributes=not isinstance(head, dict))
        url = f"http://{head.host}:{head.port}/global_config_dict_yaml"
        try:
            response = httpx.get(url, timeout=10.0)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise HeadServerUnreachableError(
                f"Could not connect to the head server at {url} ({type(error).__name__}). Perhaps you are not "
                "running a server or your head server is on a different port?"
            ) from None
        config = yaml.safe_load(jsonlib.loads(response.text)) or {}
        return cls(head_server_config=head, global_config_dict=OmegaConf.create(config))

    def base_url(self, server_name: str) -> str:
        cached = self.__pydantic_private__["_base_urls"].get(server_name)
        if cached is not None:
            return cached
        pool = self._replica_pool(server_name)
        if pool is not None:  # a replicated instance: any ready replica (not cached)
            return pool.any_url() or f"http://{self.head_server_config.host}:0"
        config = self.global_config_dict
        if server_name == "head_server":
            url = f"http://{self.head_server_config.host}:{self.head_server_config.port}"
        else:
            try:
                fields = instance_fields(config, server_name)
                url = f"http://{fields['host']}:{fields['port']}"
            except (KeyError, TypeError, StopIteration, AttributeError) as error:
                known = [key for key, value in config.items() if hasattr(value, "keys")]
                raise UnknownServerError(
                    f"Unknown server {server_name!r} ({type(error).__name__}); configured servers: {known}"
                ) from None
        self._base_urls[server_name] = url
        return url

    async def request(
        self, server_name: str, url_path: str, method: str, policy: RetryPolicy | None = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        pool = self._replica_pool(server_name)
        if pool is not None:
            return await pool.request(method, url_path, policy=policy, **kwargs)
        return await request(method, self.base_url(server_name) + url_path, policy=policy, **kwargs)

    def _replica_pool(self, server_name: str) -> ReplicaPool | None:
        """The replicas of ``server_name`` when it has ``num_replicas`` (see ``nemo_gym.http.replica_routing``)."""
        try:
            # Read from the private-attribute dict directly: pydantic's __getattr__ costs a hop's worth of CPU.
            return self.__pydantic_private__["_replica_pools"][server_name]
        except KeyError:
            pool = None
            if is_replicated(self.global_config_dict, server_name):
                head = f"http://{self.head_server_config.host}:{self.head_server_config.port}"
                pool = ReplicaPool(server_name, head)
            self._replica_pools[server_name] = pool
            return pool

    async def get(self, server_name: str, url_path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request(server_name, url_path, "GET", **kwargs)

    async def post(self, server_name: str, url_path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request(server_name, url_path, "POST", **kwargs)

    async def create_response(
        self, model_server: Any, params: Any, cookies: dict[str, str] | None = None, policy: RetryPolicy | None = None
    ) -> dict[str, Any]:
        """``POST /v1/responses`` of a model server (its instance name or a ``ModelServerRef``) with ``params`` (a
        dict or a create-params model); returns the Response as a dict. A non-2xx answer raises
        ``aiohttp.ClientResponseError`` carrying the body (:func:`raise_for_status`)."""
        name = model_server if isinstance(model_server, str) else model_server.name
        response = await self.post(name, "/v1/responses", json=params, cookies=cookies, policy=policy)
        await raise_for_status(response)
        return await get_response_json(response)

    def poll_for_status(self, server_name: str, timeout: float = 5.0) -> ServerStatus:
        """``success`` when ``GET /health`` answers 2xx; otherwise the kind of failure."""
        try:
            url = self.base_url(server_name) + "/health"
            response = httpx.get(url, timeout=timeout)
        except httpx.ConnectError:
            return "connection_error"
        except httpx.TimeoutException:
            return "timeout"
        except Exception:
            return "unknown_error"
        return "success" if response.is_success else "unknown_error"


async def raise_for_status(response: aiohttp.ClientResponse) -> None:
    """Raise ``aiohttp.ClientResponseError`` carrying the body as ``response_content`` when not 2xx."""
    if response.ok:
        return
    content = await response.read()
    error = aiohttp.ClientResponseError(
        response.request_info,
        response.history,
        status=response.status,
        message=content.decode(errors="replace")[:2000] or (response.reason or ""),
        headers=response.headers,
    )
    error.response_content = content
    raise error


async def get_response_json(response: aiohttp.ClientResponse) -> Any:
    return orjson.loads(await response.read())
