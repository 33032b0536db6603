"""Which Python runs a server: the current interpreter by default (isolated per-server venvs come behind a flag)."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nemo_gym.config.schema import ServerInstance


def python_for_server(
    config: dict[str, Any], instance: ServerInstance, server_dir: Path, say: Callable[[str], None]
) -> str:
    return sys.executable
