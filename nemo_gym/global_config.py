"""Public face of the configuration (the reference's ``nemo_gym.global_config``).

``get_global_config_dict()`` is computed once per process: in a child started by ``ng_run`` it is read from
``NEMO_GYM_CONFIG_DICT`` (YAML); otherwise it is parsed from the command line, ``env.yaml`` and the files in
``config_paths``.
"""

import os
from collections.abc import Mapping
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from nemo_gym.config.instances import RESERVED_TOP_LEVEL_KEYS
from nemo_gym.config.loader import ParsedConfig, parse_config
from nemo_gym.config.ports import DEFAULT_HEAD_SERVER_PORT, find_open_port

NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME = "NEMO_GYM_CONFIG_DICT"
NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME = "NEMO_GYM_CONFIG_PATH"
NEMO_GYM_SESSION_SECRET_ENV_VAR_NAME = "NEMO_GYM_SESSION_SECRET"
NEMO_GYM_RESERVED_TOP_LEVEL_KEYS = sorted(RESERVED_TOP_LEVEL_KEYS)

_GLOBAL_CONFIG_DICT: DictConfig | None = None

__all__ = [
    "DEFAULT_HEAD_SERVER_PORT",
    "NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME",
    "NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME",
    "NEMO_GYM_RESERVED_TOP_LEVEL_KEYS",
    "find_open_port",
    "get_first_server_config_dict",
    "get_global_config_dict",
    "parse_global_config",
    "set_global_config_dict",
]


def parse_global_config(argv: list[str] | None = None, initial: Mapping[str, Any] | None = None) -> ParsedConfig:
    """Full parse from the command line (``argv``, default ``sys.argv[1:]``)."""
    from nemo_gym.config.cli_overrides import parse_overrides

    return parse_config(parse_overrides(argv), initial=initial)


def set_global_config_dict(config: Mapping[str, Any] | DictConfig | None) -> None:
    """Set (or clear, with None) the process's cached global config. Tests and ng_run use this."""
    global _GLOBAL_CONFIG_DICT
    _GLOBAL_CONFIG_DICT = (
        None
        if config is None
        else OmegaConf.create(
            OmegaConf.to_container(config, resolve=False) if isinstance(config, DictConfig) else dict(config)
        )
    )


def get_global_config_dict() -> DictConfig:
    global _GLOBAL_CONFIG_DICT
    if _GLOBAL_CONFIG_DICT is not None:
        return _GLOBAL_CONFIG_DICT
    from_env = os.environ.get(NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME)
    if from_env:
        _GLOBAL_CONFIG_DICT = OmegaConf.create(yaml.safe_load(from_env) or {})
    else:
        _GLOBAL_CONFIG_DICT = OmegaConf.create(parse_global_config().config)
    return _GLOBAL_CONFIG_DICT


def peek_global_config_dict() -> DictConfig | None:
    """The config if this process already has one (cached, or handed down by ng_run); never parses argv."""
    if _GLOBAL_CONFIG_DICT is not None or os.environ.get(NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME):
        return get_global_config_dict()
    return None


def get_first_server_config_dict(global_config_dict: Mapping[str, Any] | DictConfig, name: str) -> Any:
    """``cfg[name]``'s first value's first value: the implementation mapping of instance ``name``."""
    level_one = global_config_dict[name]
    level_two = level_one[next(iter(level_one))]
    return level_two[next(iter(level_two))]


def config_to_yaml(config: Mapping[str, Any] | DictConfig) -> str:
    if isinstance(config, DictConfig):
        return OmegaConf.to_yaml(config)
    return yaml.safe_dump(dict(config), sort_keys=False)
