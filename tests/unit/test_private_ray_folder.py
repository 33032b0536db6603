"""The private folder of a Ray cluster we start: token file modes, and no folder outliving a killed owner."""

import os
import subprocess
import sys
from pathlib import Path

from nemo_gym.bootstrap.ray_connection import PrivateRayFolder


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def planted_folder(name: str, owner: int | None) -> Path:
    folder = Path(PrivateRayFolder.base_dir()) / f"{PrivateRayFolder.PREFIX}test_{name}_{os.getpid()}"
    folder.mkdir()
    if owner is not None:
        (folder / PrivateRayFolder.OWNER_FILE).write_text(str(owner))
    return folder


def test_the_token_is_private_and_the_folder_goes_with_remove() -> None:
    private = PrivateRayFolder()
    try:
        assert private.token_path.stat().st_mode & 0o777 == 0o600
        assert private.folder.stat().st_mode & 0o777 == 0o700
        assert private.env() == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(private.token_path)}
    finally:
        private.remove()
    assert not private.folder.exists()


def test_a_new_folder_removes_those_of_dead_owners_only() -> None:
    abandoned = planted_folder("abandoned", dead_pid())
    alive = planted_folder("alive", os.getpid())
    unjudged = planted_folder("unjudged", None)
    private = PrivateRayFolder()
    try:
        assert not abandoned.exists()
        assert alive.exists() and unjudged.exists()
    finally:
        private.remove()
        for folder in (abandoned, alive, unjudged):
            for child in folder.glob("*"):
                child.unlink()
            if folder.exists():
                folder.rmdir()
