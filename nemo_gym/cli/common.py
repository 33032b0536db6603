"""What every command shares: help from the config class, one-line errors, and the config parse."""

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from nemo_gym.config.command_config import BaseNeMoGymCLIConfig, render_help
from nemo_gym.errors import NeMoGymError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

__all__ = ["BaseNeMoGymCLIConfig", "command", "console", "err_console", "render_help", "validate_command_config"]

ConfigT = TypeVar("ConfigT", bound="BaseNeMoGymCLIConfig")


def validate_command_config(config_class: type[ConfigT], config: dict[str, Any]) -> ConfigT:
    """Validate command parameters; a bad value is one line naming the field."""
    try:
        return config_class.model_validate(config)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(config)"
        raise NeMoGymError(f"+{field}: {first['msg']}") from None


def command(func: Callable[[], int | None]) -> Callable[[], None]:
    """Run a command: user errors are one line on stderr and exit 1; tracebacks only with ``+debug=true``."""

    @functools.wraps(func)
    def wrapper() -> None:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        debug = any(arg.lstrip("+") in ("debug=true", "debug=True") for arg in sys.argv[1:])
        try:
            code = func()
        except NeMoGymError as error:
            if debug:
                raise
            err_console.print(f"[bold red]Error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)
        sys.exit(code or 0)

    return wrapper
