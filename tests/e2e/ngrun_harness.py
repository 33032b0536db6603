"""Run ``ng_run`` as a subprocess against a copy of the fixture servers, and check what it leaves behind."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from nemo_gym.config.ports import find_open_port

FIXTURE_ROOT = Path(__file__).parent / "fixture_root"
NG_RUN = [sys.executable, "-c", "from nemo_gym.cli.run import main; main()"]


class NgRun:
    def __init__(
        self,
        tmp_path: Path,
        *overrides: str,
        env_yaml: str | None = None,
        root: Path | None = None,
        keep_ray_address: bool = False,
        base_env: dict[str, str] | None = None,
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.root = root or tmp_path / "root"
        if root is None:
            shutil.copytree(FIXTURE_ROOT, self.root)
        if env_yaml is not None:
            (self.root / "env.yaml").write_text(env_yaml)
        self.head_port = find_open_port()
        self.log_path = tmp_path / "ng_run.log"
        env = {
            **(os.environ if base_env is None else base_env),
            "NEMO_GYM_ROOT": str(self.root),
            "PYTHONUNBUFFERED": "1",
        }
        if not keep_ray_address:
            env.pop("RAY_ADDRESS", None)
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*NG_RUN, f"+head_server.port={self.head_port}", *overrides],
            cwd=self.root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.descendants: list[psutil.Process] = []
        self.groups: set[int] = set()

    @staticmethod
    def fixture_root() -> Path:
        return FIXTURE_ROOT

    @property
    def head_url(self) -> str:
        return f"http://127.0.0.1:{self.head_port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 180.0) -> list[dict]:
        """Poll until the head server lists the servers and every one answers /health."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"ng_run exited early:\n{self.output()}"
            if "servers ready" in self.output():
                records = httpx.get(f"{self.head_url}/server_instances", timeout=5).json()
                self.remember_descendants()
                return records
            time.sleep(0.1)
        raise AssertionError(f"ng_run not ready after {timeout_s}s:\n{self.output()}")

    def remember_descendants(self) -> None:
        self.descendants = psutil.Process(self.process.pid).children(recursive=True)
        # the process groups they lead: the Ray head's processes stay in its group without being descendants
        self.groups = {process.pid for process in self.descendants if _pgid(process.pid) == process.pid}

    def run_processes(self) -> list[psutil.Process]:
        """The remembered descendants, and every process now in one of their process groups."""
        found = {process.pid: process for process in self.descendants}
        for process in psutil.process_iter():
            if process.pid not in found and _pgid(process.pid) in self.groups:
                found[process.pid] = process
        return list(found.values())

    def wait_exit(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self.log.close()

    def leftover_processes(self, grace_s: float = 10.0) -> list[str]:
        deadline = time.monotonic() + grace_s
        while True:
            alive = []
            for process in self.run_processes():
                try:
                    if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                        alive.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
                except psutil.NoSuchProcess:
                    pass
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.1)

    def kill_everything(self) -> None:
        for process in (
            [*self.run_processes(), psutil.Process(self.process.pid)]
            if self.process.poll() is None
            else self.run_processes()
        ):
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None
