"""What every command shares: help from the config class, one-line errors, and the config parse."""

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, model_validator
from pydantic_core import PydanticUndefined
from rich.console import Console
from rich.markup import escape

from nemo_gym.errors import NeMoGymError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ConfigT = TypeVar("ConfigT", bound="BaseNeMoGymCLIConfig")


class HelpRequested(Exception):
    pass


class BaseNeMoGymCLIConfig(BaseModel):
    """Base of every command's parameters. ``+h=true`` or ``+help=true`` prints them and exits 0."""

    @model_validator(mode="before")
    @classmethod
    def _print_help(cls, data: Any) -> Any:
        if isinstance(data, dict) and (data.get("h") or data.get("help")):
            console.print(render_help(cls), markup=False)
            raise SystemExit(0)
        return data


def render_help(config_class: type[BaseModel]) -> str:
    lines = [f"Displaying help for {config_class.__name__}"]
    doc = config_class.__dict__.get("__doc__")
    if doc:
        lines += ["", "Description", "-----------", doc.strip()]
    lines += ["", "Parameters", "----------"]
    fields = config_class.model_fields
    if not fields:
        lines.append("There are no arguments to this CLI command!")
        return "\n".join(lines)
    prefixes = {}
    for name, field in fields.items():
        annotation = field.annotation
        type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        prefixes[name] = f"- {field.alias or name} ({type_name})"
    width = max(len(prefix) for prefix in prefixes.values()) + 3
    for name, field in fields.items():
        if field.default_factory is not None:
            suffix = " [default: <factory>]"
        elif field.is_required():
            suffix = " [required]"
        elif field.default is not None and field.default is not PydanticUndefined:
            suffix = f" [default: {field.default}]"
        else:
            suffix = ""
        lines.append(f"{prefixes[name].ljust(width)}{field.description or ''}{suffix}")
    return "\n".join(lines)


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
