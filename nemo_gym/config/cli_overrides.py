"""Hydra-style command-line overrides (``+key=value``, ``++key=value``, lists, ``null``) without run dirs."""

import sys
from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf

from nemo_gym.errors import ConfigError


def parse_overrides(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse overrides with Hydra's own grammar into a plain (unresolved) dict.

    Hydra's compose API is used instead of ``@hydra.main`` so that no ``outputs/`` folder is ever created.
    """
    from hydra import compose, initialize
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    args = list(sys.argv[1:] if argv is None else argv)
    GlobalHydra.instance().clear()
    try:
        with initialize(version_base=None, config_path=None):
            config = compose(config_name=None, overrides=args)
    except HydraException as error:
        message = str(error).splitlines()[0]
        if "not in struct" in message or "Could not override" in message:
            message += " (add a '+' in front of new keys: +key=value)"
        raise ConfigError(f"command line: {message}") from None
    except Exception as error:  # the override grammar raises its own error types
        raise ConfigError(f"command line: {str(error).splitlines()[0]}") from None
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.set_struct(config, False)
    plain = OmegaConf.to_container(config, resolve=False)
    plain.pop("hydra", None)
    return plain
