"""The parameters of a command: the base class every command's config derives from, and its help text.

Here (not in :mod:`nemo_gym.cli`) because library code derives from it too: rollout collection, data
preparation and the dataset-registry configs validate their parameters with it.
"""

from typing import Any

from pydantic import BaseModel, model_validator
from pydantic_core import PydanticUndefined
from rich.console import Console


class BaseNeMoGymCLIConfig(BaseModel):
    """Base of every command's parameters. ``+h=true`` or ``+help=true`` prints them and exits 0."""

    @model_validator(mode="before")
    @classmethod
    def _print_help(cls, data: Any) -> Any:
        if isinstance(data, dict) and (data.get("h") or data.get("help")):
            Console(highlight=False).print(render_help(cls), markup=False)
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
