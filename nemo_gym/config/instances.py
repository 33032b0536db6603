"""The one walk over server instances: recognition, validation, almost-servers and references."""

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from nemo_gym.config.paths import SERVER_TYPES, repo_root
from nemo_gym.config.schema import DOMAIN_VALUES, BaseServerInstanceConfig, BaseServerRef, ServerInstance
from nemo_gym.errors import ConfigError, ServerRefError

logger = logging.getLogger("nemo_gym.config")

# Top-level keys that are never server instances (the reference's twelve plus our own).
RESERVED_TOP_LEVEL_KEYS = frozenset(
    {
        "config_paths",
        "entrypoint",
        "default_host",
        "head_server",
        "disallowed_ports",
        "head_server_deps",
        "python_version",
        "pip_install_verbose",
        "use_absolute_ip",
        "uv_pip_set_python",
        "hf_token",
        "ray_head_node_address",
        # ours
        "http_client",
        "isolated_envs",
        "startup_timeout_s",
        "session_secret",
        "max_request_body_mb",
        "model_upstream_check",
        "model_upstream_wait_s",
        "preload_servers",
    }
)


def looks_like_server(value: Any) -> bool:
    """A mapping with a server-type key under which some implementation mapping has an ``entrypoint``."""
    if not isinstance(value, Mapping):
        return False
    for server_type in SERVER_TYPES:
        implementations = value.get(server_type)
        if isinstance(implementations, Mapping):
            if any(isinstance(impl, Mapping) and "entrypoint" in impl for impl in implementations.values()):
                return True
    return False


def _validate_instance(name: str, value: Mapping[str, Any]) -> ServerInstance:
    """Validate one candidate; raises ConfigError with a one-line, user-actionable message."""
    types_present = [server_type for server_type in SERVER_TYPES if server_type in value]
    if len(types_present) != 1:
        raise ConfigError(f"server {name!r}: expected exactly one of {list(SERVER_TYPES)}, got {types_present}")
    server_type = types_present[0]
    implementations = value[server_type]
    if not isinstance(implementations, Mapping) or len(implementations) != 1:
        found = list(implementations) if isinstance(implementations, Mapping) else implementations
        raise ConfigError(f"server {name!r}: {server_type} must hold exactly one implementation, got {found}")
    implementation, fields = next(iter(implementations.items()))
    if not isinstance(fields, Mapping):
        raise ConfigError(f"server {name!r}: {server_type}.{implementation} must be a mapping")
    where = f"{name}.{server_type}.{implementation}"
    domain = fields.get("domain")
    if server_type == "resources_servers":
        if domain is None:
            raise ConfigError(f"{where}.domain: a domain is required for resource servers (one of {DOMAIN_VALUES})")
        if domain not in DOMAIN_VALUES:
            raise ConfigError(f"{where}.domain: {domain!r} is not a valid domain; expected one of {DOMAIN_VALUES}")
    else:
        fields = {key: item for key, item in fields.items() if key != "domain"}
    try:
        config = BaseServerInstanceConfig.model_validate(dict(fields))
    except ValidationError as error:
        first = error.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{where}.{loc}: {first['msg']}") from None
    if server_type != "resources_servers":
        config.domain = None
    return ServerInstance(name=name, server_type=server_type, implementation=str(implementation), config=config)


def find_server_instances(config: Mapping[str, Any], error_on_almost_servers: bool = True) -> list[ServerInstance]:
    """Valid instances in top-level key order. Almost-servers are reported, then raised or skipped."""
    instances: list[ServerInstance] = []
    almost: list[tuple[str, str]] = []
    for name, value in config.items():
        if name in RESERVED_TOP_LEVEL_KEYS or not isinstance(value, Mapping):
            continue
        if not any(server_type in value for server_type in SERVER_TYPES):
            continue
        try:
            instances.append(_validate_instance(str(name), value))
        except ConfigError as error:
            if looks_like_server(value):
                almost.append((str(name), str(error)))
    if almost:
        details = "; ".join(message for _, message in almost)
        if error_on_almost_servers:
            raise ConfigError(
                f"Found {len(almost)} almost-server(s) with validation errors: {details}. Fix them or set "
                "+error_on_almost_servers=false to skip these servers."
            )
        for name, message in almost:
            logger.warning("Almost-server %r will NOT be started: %s", name, message)
    return instances


def check_server_folders(instances: list[ServerInstance]) -> None:
    root = repo_root()
    for instance in instances:
        folder = root / instance.dir_path
        if not folder.is_dir():
            raise ConfigError(f"server {instance.name!r}: server folder {folder} does not exist")
        entrypoint = folder / instance.config.entrypoint
        if not entrypoint.is_file():
            raise ConfigError(f"server {instance.name!r}: entrypoint {entrypoint} does not exist")


def check_server_refs(instances: list[ServerInstance]) -> None:
    """Every direct field shaped like ``{type, name}`` must name a configured instance of that type."""
    available = {(instance.server_type, instance.name) for instance in instances}
    for instance in instances:
        for field, value in (instance.config.model_extra or {}).items():
            if not (isinstance(value, Mapping) and "type" in value and "name" in value):
                continue
            try:
                ref = BaseServerRef.model_validate({"type": value["type"], "name": value["name"]})
            except ValidationError:
                raise ServerRefError(
                    f"{instance.name}.{instance.server_type}.{instance.implementation}.{field}.type: "
                    f"{value['type']!r} is not a server type; expected one of {list(SERVER_TYPES)}"
                ) from None
            if (ref.type, ref.name) not in available:
                known = sorted(f"{server_type}/{name}" for server_type, name in available)
                raise ServerRefError(
                    f"{instance.name}.{instance.server_type}.{instance.implementation}.{field}: no server "
                    f"{ref.type}/{ref.name} is configured; available servers: {known}"
                )


def expand_implementation_shorthand(config: dict[str, Any]) -> None:
    """``policy_model.vllm_model.base_url`` means ``policy_model.<type>.vllm_model.base_url`` when unambiguous.

    The deployment guide's overrides leave out the server-type level; fold them into the full path in place.
    """
    for name, value in config.items():
        if name in RESERVED_TOP_LEVEL_KEYS or not isinstance(value, dict):
            continue
        for key in [key for key in value if key not in SERVER_TYPES]:
            owners = [
                server_type
                for server_type in SERVER_TYPES
                if isinstance(value.get(server_type), dict) and key in value[server_type]
            ]
            if len(owners) == 1 and isinstance(value[key], dict):
                target = value[owners[0]][key]
                if isinstance(target, dict):
                    _deep_update(target, value.pop(key))


def _deep_update(target: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, item in update.items():
        if isinstance(item, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], item)
        else:
            target[key] = item
