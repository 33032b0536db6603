"""The shape of the config, written once: where an instance's fields sit, and which host reaches a server.

An instance entry is three levels deep: ``<instance name>: {<server type>: {<implementation>: {fields}}}``.
Every reader of that shape (server start-up, ServerClient, the global config face, tests, rollout collection)
goes through :func:`instance_fields` / :func:`instance_path`.
"""

from collections.abc import Mapping
from typing import Any

from nemo_gym.config.paths import SERVER_TYPES
from nemo_gym.config.ports import DEFAULT_HEAD_SERVER_PORT
from nemo_gym.config.schema import HeadServerConfig

# Hosts that mean "every interface": a server bound there is reached on loopback.
_WILDCARD_HOSTS = {None: "127.0.0.1", "": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def instance_path(config: Mapping[str, Any], name: str) -> list[str]:
    """``[name, server type, implementation]`` of instance ``name``: its config path, for messages."""
    level_one = config[name]
    server_type = next(iter(level_one))
    return [str(name), str(server_type), str(next(iter(level_one[server_type])))]


def instance_fields(config: Mapping[str, Any], name: str) -> Any:
    """The implementation mapping of instance ``name`` (its host, port, entrypoint and own fields).

    Raises ``KeyError`` for an unknown name, ``StopIteration``/``TypeError``/``AttributeError`` for an entry
    that is not three mappings deep.
    """
    level_one = config[name]
    level_two = level_one[next(iter(level_one))]
    return level_two[next(iter(level_two))]


def find_instance_fields(config: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """Like :func:`instance_fields`, for configs that may hold anything: None where ``name`` is not an instance."""
    level_one = config.get(name)
    if not hasattr(level_one, "keys"):
        return None
    for server_type in SERVER_TYPES:
        implementations = level_one.get(server_type)
        if hasattr(implementations, "values"):
            for fields in implementations.values():
                if hasattr(fields, "keys"):
                    return fields
    return None


def connectable_host(host: str | None) -> str:
    """The address a client on this machine uses for a server bound to ``host`` (a wildcard means loopback)."""
    return _WILDCARD_HOSTS.get(host, host)  # type: ignore[arg-type]


def connectable_url(url: str) -> str:
    """``url`` with a wildcard host (``0.0.0.0``) replaced by loopback."""
    return url.replace("://0.0.0.0", "://127.0.0.1")


def head_server_config_from(config: Mapping[str, Any] | None) -> HeadServerConfig:
    """The head server's host and port from a config's ``head_server`` key (defaults for a missing one)."""
    head = (config.get("head_server") if config is not None else None) or {}
    return HeadServerConfig(host=head.get("host", "127.0.0.1"), port=head.get("port", DEFAULT_HEAD_SERVER_PORT))
