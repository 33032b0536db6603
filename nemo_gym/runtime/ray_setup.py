"""The Ray cluster ng_run starts for a run (or the address of one it joins).

How a server process connects to it (and the private cluster of a server run on its own) lives in
:mod:`nemo_gym.bootstrap.ray_connection`.
"""

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from nemo_gym.bootstrap.ray_connection import PrivateRayFolder
from nemo_gym.config.paths import repo_root
from nemo_gym.config.ports import find_open_port
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.process_utils import child_preexec, signal_group

logger = logging.getLogger("nemo_gym.ray")


def _tcp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def split_address(address: str) -> tuple[str, int]:
    bare = address.split("://", 1)[-1]
    host, _, port = bare.rpartition(":")
    return host or "127.0.0.1", int(port)


def explain_ray_failure(code: int | None, stderr: str) -> str:
    """One line: why ``ray start`` gave up (its last error line) and what the user can do about it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"(Error|Exception|error:|failed|Failed)", line)]
    reason = (errors or lines or ["no output"])[-1]
    if len(reason) > 300:
        reason = reason[:300] + "..."
    return (
        f"the local Ray cluster could not start (exit code {code}): {reason} -- fix the cause above, or join a "
        "running cluster with +ray_head_node_address=HOST:PORT"
    )


# Holds a head started by `ray start` (without --block): `ray start` returns once the head is up, leaving its
# processes in this shell's process group; the shell then waits, and on SIGTERM (ng_run stopping, or ng_run's
# death through the parent-death signal) kills the whole group. A Python process blocking in `ray start --block`
# would do the same for about 100 MiB.
_HOLD_HEAD = 'trap "kill -KILL 0" TERM INT HUP; "$@" || exit $?; while :; do sleep 3600 & wait $!; done'


class LocalRayCluster:
    """A head node started by ng_run with ``ray start --head``; stopping it stops the whole cluster.

    It is private to the run (``PrivateRayFolder``): its own token, handed to every child through ``child_env``,
    and its own temp dir; after it stops, nothing of it is left in ``/tmp/ray`` or the user's home.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = find_open_port()
        self.client_port = find_open_port([self.port])
        self.address = f"{host}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.private = PrivateRayFolder()

    def child_env(self, env: dict[str, str]) -> dict[str, str]:
        """The environment a process needs to join this cluster: ``env`` plus this cluster's token."""
        return self.private.apply(env)

    def start_command(self) -> list[str]:
        # Only what a run needs: no dashboard, no autoscaler monitor, no log monitor (servers do not stream
        # worker logs), no idle workers started ahead of need (see ``start``): about 200 MiB less at idle.
        return [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--head",
            f"--port={self.port}", f"--node-ip-address={self.host}",
            f"--ray-client-server-port={self.client_port}",
            f"--temp-dir={self.private.temp_dir}", "--include-dashboard=false", "--disable-usage-stats",
            "--no-monitor", "--include-log-monitor=false",
        ]  # fmt: skip

    def start(self) -> None:
        env = self.child_env(dict(os.environ))
        env.update(RAY_enable_worker_prestart="0", RAY_prestart_worker_first_driver="0")
        # workers inherit the raylet's environment: tasks defined in server folders import from the repository
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo_root()), env.get("PYTHONPATH")]))
        shell = shutil.which("sh")
        command = (
            [shell, "-c", _HOLD_HEAD, "sh", *self.start_command()] if shell else [*self.start_command(), "--block"]
        )
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=child_preexec,
        )

    def poll_ready(self) -> bool:
        """Whether the GCS accepts connections yet; raises SupervisorError (one line) if Ray gave up."""
        if self.process is not None and self.process.poll() is not None:
            tail = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
            logger.debug("ray start output:\n%s", tail)
            raise SupervisorError(explain_ray_failure(self.process.returncode, tail))
        return _tcp_reachable(self.host, self.port)

    def wait_ready(self, timeout_s: float = 120.0, stop: threading.Event | None = None) -> None:
        """Until the GCS accepts connections; returns early when ``stop`` is set (ng_run is shutting down)."""
        deadline = time.monotonic() + timeout_s
        while not self.poll_ready():
            if stop is not None and stop.is_set():
                return
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"the local Ray cluster did not come up on {self.address} within {timeout_s:.0f}s -- check "
                    "that the machine has free memory and /tmp space, or join a running cluster with "
                    "+ray_head_node_address=HOST:PORT"
                )
            time.sleep(0.1)

    def stop(self, timeout_s: float = 8.0) -> None:
        """Stop the head and everything it started, then remove its private folder (token, sessions, logs)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        if process is not None:
            # the GCS, raylet and workers share the head's process group; none may outlive the run
            signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout_s)
        self.private.remove()


_MODULE_LEVEL_RAY_IMPORT = re.compile(rb"^(?:import ray\b|from ray[ .])", re.MULTILINE)
_NOT_SERVER_CODE = {"tests", "data", "node_modules", "__pycache__"}


def imports_ray_at_start(folders: list[Path]) -> bool:
    """Whether code in these server folders imports ``ray`` at module level (so the server joins the cluster
    before it serves). Imports inside functions do not count: those servers join when they first use Ray."""
    for folder in folders:
        for directory, subdirectories, files in os.walk(folder):
            subdirectories[:] = [d for d in subdirectories if d not in _NOT_SERVER_CODE and not d.startswith(".")]
            for name in files:
                if name.endswith(".py") and _MODULE_LEVEL_RAY_IMPORT.search(Path(directory, name).read_bytes()):
                    return True
    return False
