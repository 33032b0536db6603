"""Small commands: ``ng_dump_config``, ``ng_status``, ``ng_help``, ``ng_version``."""

import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, entry_points, version

import psutil
import yaml
from omegaconf import OmegaConf
from pydantic import ConfigDict, Field

from nemo_gym import PARENT_DIR, __version__
from nemo_gym.cli.common import BaseNeMoGymCLIConfig, command, console, validate_command_config
from nemo_gym.config.cli_overrides import parse_overrides
from nemo_gym.config.loader import parse_config
from nemo_gym.config.secrets import mask_secrets


@command
def dump_config_main() -> int:
    """Print the merged config with interpolations resolved and secrets masked."""
    overrides = parse_overrides()
    validate_command_config(BaseNeMoGymCLIConfig, overrides)
    parsed = parse_config(overrides)
    from nemo_gym.config.loader import resolve_subtree

    resolved = {key: resolve_subtree(parsed.config, key) for key in parsed.config}
    console.print(yaml.safe_dump(mask_secrets(resolved), sort_keys=False), markup=False, end="")
    return 0


class StatusConfig(BaseNeMoGymCLIConfig):
    """Show the servers that the head server of a running ng_run knows about, and whether each is healthy."""

    head_server: dict | None = Field(default=None, description="{host, port} of the head server")


@command
def status_main() -> int:
    """Delegates to ``nemo_gym.server_status.StatusCommand``; always exits 0."""
    from nemo_gym.config.schema import HeadServerConfig
    from nemo_gym.server_status import StatusCommand

    overrides = parse_overrides()
    validate_command_config(StatusConfig, overrides)
    head = parse_config(overrides).config["head_server"]
    head_config = HeadServerConfig(host=head["host"] or "127.0.0.1", port=head["port"])
    status = StatusCommand(head_config, console=console)
    status.display_status(status.discover_servers())
    return 0


@command
def help_main() -> int:
    validate_command_config(BaseNeMoGymCLIConfig, parse_overrides())
    console.print("Run a command with `+h=true` or `+help=true` to see more detailed information!\n", markup=False)
    console.print("[bold]Available CLI scripts[/bold]")
    console.print("-" * 17)
    names = sorted(
        {ep.name for ep in entry_points(group="console_scripts") if ep.value.startswith("nemo_gym.cli.")},
    )
    for name in [name for name in names if name.startswith("ng_")]:
        console.print(name, markup=False)
    return 0


class VersionConfig(BaseNeMoGymCLIConfig):
    """Print the version of NeMo Gym, its key dependencies and the system."""

    model_config = ConfigDict(populate_by_name=True)
    json_format: bool = Field(default=False, alias="json", description="print one line of JSON")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def version_info() -> dict:
    return {
        "nemo_gym": __version__,
        "python": platform.python_version(),
        "python_path": sys.executable,
        "installation_path": str(PARENT_DIR),
        "dependencies": {name: _version(name) for name in ("openai", "ray", "fastapi", "aiohttp", "pydantic")},
        "system": {
            "os": f"{platform.system()} {platform.release()}",
            "platform": platform.platform(),
            "architecture": platform.machine(),
            "processor": platform.processor() or "unknown",
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 2),
        },
    }


@command
def version_main() -> int:
    config = validate_command_config(VersionConfig, parse_overrides())
    info = version_info()
    if config.json_format:
        print(json.dumps(info))
        return 0
    lines = [
        f"NeMo Gym v{info['nemo_gym']}",
        f"Python {info['python']} ({info['python_path']})",
        f"Installation: {info['installation_path']}",
        "",
        "Key Dependencies:",
        *[f"  {name}: {ver}" for name, ver in info["dependencies"].items()],
        "",
        "System:",
        *[f"  {key.replace('_', ' ').title()}: {value}" for key, value in info["system"].items()],
    ]
    console.print("\n".join(lines), markup=False)
    return 0


__all__ = ["OmegaConf", "dump_config_main", "help_main", "status_main", "version_main"]
