"""Where relative paths are resolved: the repository root holding the server folders."""

import os
from pathlib import Path

from nemo_gym import PARENT_DIR

SERVER_TYPES = ("responses_api_models", "resources_servers", "responses_api_agents")


def repo_root() -> Path:
    """The folder that holds ``resources_servers/`` etc.

    ``NEMO_GYM_ROOT`` wins; else the source checkout the package lives in; else the working directory
    (a non-editable install, e.g. in a container, run from the folder that holds the configs).
    """
    explicit = os.environ.get("NEMO_GYM_ROOT")
    if explicit:
        return Path(explicit).resolve()
    if any((PARENT_DIR / server_type).is_dir() for server_type in SERVER_TYPES):
        return PARENT_DIR
    return Path.cwd()


def resolve_path(path: str | Path) -> Path:
    """Absolute paths stay; relative ones are taken from the repository root, then the working directory."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    rooted = repo_root() / candidate
    if rooted.exists() or not (Path.cwd() / candidate).exists():
        return rooted
    return Path.cwd() / candidate
