"""Servers forked from the preloader behave as `python app.py` started on its own would."""

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from nemo_gym.runtime.preload import Preloader
from nemo_gym.runtime.process_utils import signal_group

SCRIPT = textwrap.dedent(
    """
    import os, sys, json
    import helper  # found next to the script, as `python app.py` finds it
    print(json.dumps({
        "name": __name__, "file": __file__, "argv": sys.argv, "cwd": os.getcwd(), "marker": os.environ.get("MARKER"),
        "path0": sys.path[0], "extra": os.environ["PYTHONPATH"].split(os.pathsep)[-1] in sys.path,
        "helper": helper.VALUE, "pgid_is_pid": os.getpgid(0) == os.getpid(),
    }), flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    if os.environ.get("WAIT"):
        import time
        time.sleep(120)
    sys.exit(int(os.environ.get("CODE", "0")))
    """
)


@pytest.fixture
def server_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my_server"
    folder.mkdir()
    (folder / "app.py").write_text(SCRIPT)
    (folder / "helper.py").write_text("VALUE = 42\n")
    return folder


@pytest.fixture
def preloader():
    launcher = Preloader()
    yield launcher
    launcher.close()


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tmp_path / "extra_path"), "PYTHONUNBUFFERED": "1", **extra}


def read_all(stream) -> list[str]:
    return stream.read().decode().splitlines()


def test_a_forked_server_runs_its_script_as_main_in_its_folder(preloader, server_folder, tmp_path) -> None:
    import json

    child = preloader.spawn(["app.py", "--flag"], server_folder, child_env(tmp_path, MARKER="m1", CODE="3"))
    assert child.wait(timeout=30) == 3
    first, second = read_all(child.stdout)
    seen = json.loads(first)
    assert seen["name"] == "__main__" and seen["argv"] == ["app.py", "--flag"] and seen["helper"] == 42
    assert seen["cwd"] == str(server_folder) and seen["file"] == str(server_folder / "app.py")
    assert seen["marker"] == "m1" and seen["path0"] == str(server_folder) and seen["extra"]
    assert seen["pgid_is_pid"]
    assert second == "to stderr"


def test_ps_shows_the_servers_own_command_and_signals_reach_it(preloader, server_folder, tmp_path) -> None:
    child = preloader.spawn(["app.py"], server_folder, child_env(tmp_path, WAIT="1"))
    deadline = time.monotonic() + 30
    while [part for part in psutil.Process(child.pid).cmdline() if part] != [sys.executable, "app.py"]:
        assert time.monotonic() < deadline, psutil.Process(child.pid).cmdline()  # (the rest of the room is NULs)
        time.sleep(0.02)
    assert child.poll() is None
    signal_group(child.pid, signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM


def test_servers_stop_when_the_preloader_is_killed(server_folder, tmp_path) -> None:
    launcher = Preloader()
    try:
        child = launcher.spawn(["app.py"], server_folder, child_env(tmp_path, WAIT="1"))
        launcher.process.kill()  # as when ng_run is killed: the preloader gets its death signal
        deadline = time.monotonic() + 30
        while psutil.pid_exists(child.pid) and psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the forked server outlived the preloader"
            time.sleep(0.05)
        assert child.wait(timeout=30) is not None  # reported as gone, not waited for forever
    finally:
        launcher.close()


def test_a_missing_script_fails_like_python_does(preloader, tmp_path) -> None:
    child = preloader.spawn(["nope.py"], tmp_path, child_env(tmp_path))
    assert child.wait(timeout=30) == 2
    assert "can't open file" in child.stdout.read().decode()


def test_the_preloaded_modules_read_nothing_from_the_environment_when_imported() -> None:
    """A forked server gets its own environment after these imports ran; they must not have read it."""
    import subprocess

    probe = textwrap.dedent(
        """
        import os, traceback
        reads = []
        original = os._Environ.__getitem__
        stdlib = os.path.dirname(os.__file__)
        def spy(self, key):
            # the code that asked: the innermost frame outside the standard library
            frames = [f.filename for f in traceback.extract_stack()[:-1]]
            caller = next(n for n in reversed(frames) if not n.startswith("<frozen") and not n.startswith(stdlib))
            if "/nemo_gym/" in caller and not caller.endswith("nemo_gym/__init__.py"):
                reads.append(key)
            return original(self, key)
        os._Environ.__getitem__ = spy
        from nemo_gym.runtime.preload import PRELOADED_MODULES
        for name in PRELOADED_MODULES:
            __import__(name)
        print(sorted(set(reads)))
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
