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

from nemo_gym.bootstrap.environment import CONFIG_DICT_ENV, CONFIG_PATH_ENV
from nemo_gym.config.instance_types import format_almost_server_warning
from nemo_gym.config.loader import ParsedConfig, parse_config
from nemo_gym.config.ports import DEFAULT_HEAD_SERVER_PORT, find_open_port
from nemo_gym.config.shape import instance_fields

NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME = CONFIG_DICT_ENV
NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME = CONFIG_PATH_ENV
HEAD_SERVER_KEY_NAME = "head_server"

# Names of the reserved top-level keys, and of the conventional policy_* keys model configs interpolate.
CONFIG_PATHS_KEY_NAME = "config_paths"
ENTRYPOINT_KEY_NAME = "entrypoint"
DEFAULT_HOST_KEY_NAME = "default_host"
DISALLOWED_PORTS_KEY_NAME = "disallowed_ports"
HEAD_SERVER_DEPS_KEY_NAME = "head_server_deps"
PYTHON_VERSION_KEY_NAME = "python_version"
PIP_INSTALL_VERBOSE_KEY_NAME = "pip_install_verbose"
USE_ABSOLUTE_IP = "use_absolute_ip"
UV_PIP_SET_PYTHON_KEY_NAME = "uv_pip_set_python"
HF_TOKEN_KEY_NAME = "hf_token"
RAY_HEAD_NODE_ADDRESS_KEY_NAME = "ray_head_node_address"
POLICY_BASE_URL_KEY_NAME = "policy_base_url"
POLICY_API_KEY_KEY_NAME = "policy_api_key"
POLICY_MODEL_NAME_KEY_NAME = "policy_model_name"

# The reference's twelve, in its order; NeMo Gym reserves a few more of its own (nemo_gym.config.instances).
NEMO_GYM_RESERVED_TOP_LEVEL_KEYS = [
    CONFIG_PATHS_KEY_NAME,
    ENTRYPOINT_KEY_NAME,
    DEFAULT_HOST_KEY_NAME,
    HEAD_SERVER_KEY_NAME,
    DISALLOWED_PORTS_KEY_NAME,
    HEAD_SERVER_DEPS_KEY_NAME,
    PYTHON_VERSION_KEY_NAME,
    PIP_INSTALL_VERBOSE_KEY_NAME,
    USE_ABSOLUTE_IP,
    UV_PIP_SET_PYTHON_KEY_NAME,
    HF_TOKEN_KEY_NAME,
    RAY_HEAD_NODE_ADDRESS_KEY_NAME,
]

_GLOBAL_CONFIG_DICT: DictConfig | None = None

__all__ = [
    "CONFIG_PATHS_KEY_NAME",
    "DEFAULT_HEAD_SERVER_PORT",
    "DEFAULT_HOST_KEY_NAME",
    "DISALLOWED_PORTS_KEY_NAME",
    "ENTRYPOINT_KEY_NAME",
    "HEAD_SERVER_DEPS_KEY_NAME",
    "HEAD_SERVER_KEY_NAME",
    "HF_TOKEN_KEY_NAME",
    "PIP_INSTALL_VERBOSE_KEY_NAME",
    "POLICY_API_KEY_KEY_NAME",
    "POLICY_BASE_URL_KEY_NAME",
    "POLICY_MODEL_NAME_KEY_NAME",
    "PYTHON_VERSION_KEY_NAME",
    "RAY_HEAD_NODE_ADDRESS_KEY_NAME",
    "USE_ABSOLUTE_IP",
    "UV_PIP_SET_PYTHON_KEY_NAME",
    "NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME",
    "NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME",
    "NEMO_GYM_RESERVED_TOP_LEVEL_KEYS",
    "find_open_port",
    "format_almost_server_warning",
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
    return instance_fields(global_config_dict, name)


# The reference's programmatic parse (trainers pass their config as a dict with skip_load_from_cli=True).
from nemo_gym.config.parser import GlobalConfigDictParser, GlobalConfigDictParserConfig  # noqa: E402

__all__ += ["GlobalConfigDictParser", "GlobalConfigDictParserConfig"]
