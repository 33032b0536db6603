"""Building the global config: files in ``config_paths`` < ``env.yaml`` < programmatic seed < command line."""

import platform
import socket
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nemo_gym.config.instances import (
    RESERVED_TOP_LEVEL_KEYS,
    check_server_refs,
    expand_implementation_shorthand,
    find_server_instances,
)
from nemo_gym.config.paths import repo_root, resolve_path
from nemo_gym.config.ports import DEFAULT_HEAD_SERVER_PORT, PortAllocator
from nemo_gym.config.schema import ServerInstance
from nemo_gym.errors import ConfigError, PortError

LOOPBACK_HOST = "127.0.0.1"


def load_yaml_file(path: str | Path, *, what: str = "config file") -> dict[str, Any]:
    """Read one YAML mapping; missing files and syntax errors become one-line ConfigErrors."""
    resolved = resolve_path(path)
    if not resolved.is_file():
        raise ConfigError(f"{what} not found: {path} (looked at {resolved})")
    try:
        loaded = yaml.safe_load(resolved.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{what} {path}: YAML syntax error at {line}{error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {path}: YAML error: {error}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{what} {path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def _as_config_paths(value: Any, source: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, ListConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"config_paths in {source}: expected a list of file paths like [a.yaml,b.yaml], got {value!r}"
        )
    return value


def _expand_config_paths(initial: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Breadth-first expansion: nested paths are appended (deduplicated) and so override their parents."""
    paths = list(dict.fromkeys(initial))
    loaded: list[dict[str, Any]] = []
    index = 0
    while index < len(paths):
        content = load_yaml_file(paths[index])
        for nested in _as_config_paths(content.get("config_paths"), paths[index]):
            if nested not in paths:
                paths.append(nested)
        loaded.append(content)
        index += 1
    return paths, loaded


def _installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def default_host(config: Mapping[str, Any]) -> str:
    if config.get("use_absolute_ip"):
        return socket.gethostbyname(socket.gethostname())
    return config.get("default_host") or LOOPBACK_HOST


def merge_sources(
    cli: Mapping[str, Any] | None = None,
    *,
    initial: Mapping[str, Any] | None = None,
    dotenv_path: str | Path | None = None,
    skip_dotenv: bool = False,
) -> dict[str, Any]:
    """Merge the sources by precedence, unresolved. ``config_paths`` ends as the expanded list."""
    cli_and_seed = OmegaConf.merge(OmegaConf.create(dict(initial or {})), OmegaConf.create(_plain(cli or {})))
    dotenv: dict[str, Any] = {}
    if not skip_dotenv:
        env_file = Path(dotenv_path) if dotenv_path else repo_root() / "env.yaml"
        if env_file.is_file():
            dotenv = load_yaml_file(env_file, what="env.yaml")
    try:
        paths_source = OmegaConf.merge(OmegaConf.create(dotenv), cli_and_seed)
        requested = _as_config_paths(paths_source.get("config_paths"), "the command line or env.yaml")
    except OmegaConfBaseException as error:
        raise ConfigError(f"config_paths: cannot be resolved: {error}".splitlines()[0]) from None
    paths, files = _expand_config_paths(requested)
    try:
        merged = OmegaConf.merge(*[OmegaConf.create(item) for item in files], OmegaConf.create(dotenv), cli_and_seed)
    except OmegaConfBaseException as error:
        raise ConfigError(f"cannot merge configs: {error}".splitlines()[0]) from None
    result = OmegaConf.to_container(merged, resolve=False)
    result.pop("config_paths", None)
    if paths:
        result["config_paths"] = paths
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=False)
    return value


def resolve_subtree(config: Mapping[str, Any], key: str) -> Any:
    """``config[key]`` with ``${...}`` resolved against the whole config; errors name the key."""
    try:
        root = OmegaConf.create(dict(config))
        return (
            OmegaConf.to_container(root[key], resolve=True)
            if isinstance(root[key], DictConfig | ListConfig)
            else (root[key])
        )
    except OmegaConfBaseException as error:
        message = str(error).splitlines()[0]
        raise ConfigError(f"{key}: cannot resolve an interpolation: {message}") from None


class ParsedConfig:
    """The global config dict (unresolved, as children receive it) and its validated server instances."""

    def __init__(self, config: dict[str, Any], instances: list[ServerInstance]) -> None:
        self.config = config
        self.instances = instances


def parse_config(
    cli: Mapping[str, Any] | None = None,
    *,
    initial: Mapping[str, Any] | None = None,
    dotenv_path: str | Path | None = None,
    skip_dotenv: bool = False,
) -> ParsedConfig:
    """Merge the sources, then validate instances and references and fill in hosts, ports and pins."""
    config = merge_sources(cli, initial=initial, dotenv_path=dotenv_path, skip_dotenv=skip_dotenv)
    expand_implementation_shorthand(config)

    resolved_candidates = {
        name: resolve_subtree(config, name)
        for name, value in config.items()
        if name not in RESERVED_TOP_LEVEL_KEYS and isinstance(value, dict)
    }
    error_on_almost = (
        resolve_subtree(config, "error_on_almost_servers") if "error_on_almost_servers" in config else True
    )
    instances = find_server_instances(resolved_candidates, error_on_almost_servers=bool(error_on_almost))
    check_server_refs(instances)

    host = default_host(config)
    head = config.get("head_server")
    if not head:
        head = {"host": host, "port": DEFAULT_HEAD_SERVER_PORT}
    else:
        head = {**resolve_subtree(config, "head_server")}
        head.setdefault("host", host)
        head.setdefault("port", DEFAULT_HEAD_SERVER_PORT)
    config["head_server"] = head

    _populate_hosts_and_ports(config, instances, host, head)

    config["head_server_deps"] = [
        f"ray[default]=={_installed_version('ray')}",
        f"openai=={_installed_version('openai')}",
    ]
    config["python_version"] = platform.python_version()
    return ParsedConfig(config, instances)


def port_range(config: Mapping[str, Any]) -> tuple[int, int] | None:
    """``port_range_low``/``port_range_high``: where automatically chosen server ports are taken from."""
    low, high = (
        resolve_subtree(config, key) if key in config else None for key in ("port_range_low", "port_range_high")
    )
    if low is None and high is None:
        return None
    bounds = []
    for key, value, default in (("port_range_low", low, 1024), ("port_range_high", high, 65535)):
        value = default if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise ConfigError(f"{key}: expected a port number between 1 and 65535, got {value!r}")
        bounds.append(value)
    if bounds[0] > bounds[1]:
        raise ConfigError(f"port_range_low ({bounds[0]}) must not be above port_range_high ({bounds[1]})")
    return bounds[0], bounds[1]


def _populate_hosts_and_ports(
    config: dict[str, Any], instances: list[ServerInstance], host: str, head: dict[str, Any]
) -> None:
    user_disallowed = config.get("disallowed_ports") or []
    if not isinstance(user_disallowed, list) or not all(isinstance(port, int) for port in user_disallowed):
        raise ConfigError(f"disallowed_ports: expected a list of port numbers, got {user_disallowed!r}")
    allocator = PortAllocator([int(head["port"]), *user_disallowed], port_range=port_range(config))
    explicit: dict[int, str] = {int(head["port"]): "head_server"}
    for instance in instances:
        if instance.config.port:
            port = int(instance.config.port)
            owner = explicit.get(port)
            if owner is not None:
                raise PortError(f"{instance.name}: port {port} is also used by {owner}; ports must be distinct")
            if port in user_disallowed:
                raise PortError(f"{instance.name}: port {port} is listed in disallowed_ports")
            explicit[port] = instance.name
            allocator.claim(port)
    try:
        for instance in instances:
            fields = config[instance.name][instance.server_type][instance.implementation]
            if not instance.config.host:
                instance.config.host = host
                fields["host"] = host
            if not instance.config.port:
                instance.config.port = allocator.allocate(instance.config.host)
                fields["port"] = instance.config.port
    finally:
        allocator.release()
    config["disallowed_ports"] = list(
        dict.fromkeys([int(head["port"]), *user_disallowed] + [int(instance.config.port) for instance in instances])
    )
