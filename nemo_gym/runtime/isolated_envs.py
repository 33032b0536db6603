"""Per-server virtual environments (opt-in with ``+isolated_envs=true``), cached by a hash of the requirements.

Each server folder gets ``.venv`` built with ``uv`` from its ``requirements.txt`` or ``pyproject.toml``, with the
parent's exact ray and openai versions as constraints. The venv layers on top of the parent's packages (a ``.pth``
file adds the parent's site-packages after the venv's own), so a server's requirements override the shared ones
while the core is not reinstalled per server. A second start with unchanged requirements installs nothing; a
file lock makes instances sharing one folder wait for a single build.
"""

import fcntl
import hashlib
import logging
import os
import site
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nemo_gym.config.schema import ServerInstance
from nemo_gym.errors import SupervisorError

logger = logging.getLogger("nemo_gym.envs")

HASH_FILE = ".nemo_gym_env_hash"
LAYER_PTH = "_nemo_gym_parent_site.pth"


def wants_isolated_env(config: dict[str, Any], instance: ServerInstance) -> bool:
    """The server's own ``isolated_env`` field wins over the global ``isolated_envs`` flag."""
    own = (instance.config.model_extra or {}).get("isolated_env")
    if own is not None:
        return bool(own)
    return bool(config.get("isolated_envs", False))


def python_for_server(
    config: dict[str, Any], instance: ServerInstance, server_dir: Path, say: Callable[[str], None]
) -> str:
    if not wants_isolated_env(config, instance):
        return sys.executable
    pins = [str(pin) for pin in config.get("head_server_deps") or []]
    return str(ensure_server_env(server_dir, pins, say))


def requirements_source(server_dir: Path) -> Path:
    requirements, pyproject = server_dir / "requirements.txt", server_dir / "pyproject.toml"
    if requirements.is_file() and pyproject.is_file():
        raise SupervisorError(f"{server_dir}: found both pyproject.toml and requirements.txt; keep only one")
    if requirements.is_file():
        return requirements
    if pyproject.is_file():
        return pyproject
    raise SupervisorError(f"{server_dir}: isolated environments need a requirements.txt or pyproject.toml")


def env_hash(server_dir: Path, pins: list[str]) -> str:
    source = requirements_source(server_dir)
    digest = hashlib.sha256()
    for part in (source.name, source.read_text(), *pins, sys.version, sys.executable, *_parent_site_dirs()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _parent_site_dirs() -> list[str]:
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    return list(dict.fromkeys(path for path in paths if os.path.isdir(path)))


def _uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        raise SupervisorError("isolated_envs needs uv: pip install uv") from None


def ensure_server_env(server_dir: Path, pins: list[str], say: Callable[[str], None]) -> Path:
    """Create or reuse ``<server_dir>/.venv``; returns its python."""
    venv = server_dir / ".venv"
    python = venv / "bin" / "python"
    wanted = env_hash(server_dir, pins)
    with open(server_dir / ".venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        hash_file = venv / HASH_FILE
        if python.is_file() and hash_file.is_file() and hash_file.read_text() == wanted:
            say(f"{server_dir.name}: isolated environment up to date (cached)")
            return python
        say(f"{server_dir.name}: building isolated environment in {venv}")
        _build(server_dir, venv, pins)
        hash_file.write_text(wanted)
    return python


def _build(server_dir: Path, venv: Path, pins: list[str]) -> None:
    uv = _uv()
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    _run([uv, "venv", "--seed", "--allow-existing", "--python", sys.executable, str(venv)], server_dir, env)
    site_packages = next((venv / "lib").glob("python*/site-packages"))
    # An "import" line in a .pth runs at start-up; addsitedir also runs the parent's own .pth files (editable
    # installs of nemo_gym live there), which a plain path line would not.
    calls = "; ".join(f"site.addsitedir({path!r})" for path in _parent_site_dirs())
    (site_packages / LAYER_PTH).write_text(f"import site; {calls}\n")
    source = requirements_source(server_dir)
    install = [uv, "pip", "install", "--python", str(venv / "bin" / "python")]
    install += ["-r", source.name] if source.name == "requirements.txt" else ["-e", "."]
    # The parent's ray/openai versions constrain whatever the server's requirements pull in (the cluster's
    # Ray must match exactly); as constraints they install nothing when the layered parent already has them.
    constraints = venv / "nemo_gym_constraints.txt"
    constraints.write_text("\n".join(pin.replace("[default]", "") for pin in pins) + "\n")
    _run(install + ["--constraint", str(constraints)], server_dir, env)


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-8:]
        raise SupervisorError(f"{cwd}: `{' '.join(command[:3])} ...` failed: " + " | ".join(tail))
