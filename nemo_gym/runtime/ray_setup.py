"""Ray: ng_run starts a local cluster (or joins one); every server process connects to that same cluster."""

import atexit
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nemo_gym.config.ports import find_open_port
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.process_utils import child_preexec, signal_group

logger = logging.getLogger("nemo_gym.ray")

RAY_CONNECT_TIMEOUT_S = 120.0


def ray_address_from(config: Any) -> str | None:
    """``ray_head_node_address`` from the config, else ``RAY_ADDRESS``, else None (start a new cluster)."""
    address = config.get("ray_head_node_address") if config is not None else None
    return address or os.environ.get("RAY_ADDRESS") or None


def initialize_ray(config: Any) -> None:
    """Connect this server process to the run's Ray cluster, waiting for it while ng_run is still starting it.

    Without a configured address nothing happens here; code that needs Ray calls ``ensure_ray_initialized()``,
    which starts a private local cluster for a server run on its own.
    """
    import ray

    if ray.is_initialized():
        return
    address = config.get("ray_head_node_address") if config is not None else None
    if not address:
        return
    deadline = time.monotonic() + RAY_CONNECT_TIMEOUT_S
    while True:
        try:
            ray.init(
                address=address,
                ignore_reinit_error=True,
                logging_level=logging.WARNING,
                log_to_driver=False,
                runtime_env=job_runtime_env(),
            )
            return
        except (ConnectionError, RuntimeError) as error:
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"ray_head_node_address: could not connect to Ray at {address}: {error}"
                ) from None
            time.sleep(0.25)


def job_runtime_env() -> dict[str, Any]:
    """What this process's Ray tasks need to import what it imports: its own ``PYTHONPATH`` plus the repository.

    Tasks defined in a server folder are pickled by reference to ``resources_servers.<name>...``; the workers
    that run them were started by the cluster, not by this process, so they are told where that code lives
    (the same path on every node, as in a container image or a shared checkout).
    """
    from nemo_gym.config.paths import repo_root

    paths = [str(repo_root()), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}


def ensure_ray_initialized(num_cpus: int | None = None) -> None:
    """Make sure this process is connected to Ray: the run's cluster if configured, else a local one."""
    import ray

    if ray.is_initialized():
        return
    from nemo_gym.global_config import peek_global_config_dict

    config = peek_global_config_dict()
    if config is not None and config.get("ray_head_node_address"):
        initialize_ray(config)
        return
    # address="local": a private cluster for a server run on its own, never someone else's cluster that
    # happens to run on this machine; protected by a token of its own, not one in the user's home.
    private = PrivateRayFolder()
    _use_token_in_this_process(private)
    atexit.register(_stop_private_cluster, private)
    ray.init(
        address="local",
        _temp_dir=str(private.temp_dir),
        runtime_env=job_runtime_env(),
        ignore_reinit_error=True,
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level=logging.WARNING,
    )


def _use_token_in_this_process(private: "PrivateRayFolder") -> None:
    """Make this process (and the cluster it is about to start) use ``private``'s token."""
    os.environ.pop("RAY_AUTH_TOKEN", None)  # it would take precedence over the file
    os.environ.update(private.env())
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without token authentication: nothing is cached
        return
    # Ray reads RAY_AUTH_MODE and the token once per process and caches them; refresh both
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _stop_private_cluster(private: "PrivateRayFolder") -> None:
    """At exit: stop the cluster first (Ray writes its logs until then), then remove its folder."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    private.remove()


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


RAY_AUTH_ENV_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


class PrivateRayFolder:
    """Everything of one cluster we start, in a private 0700 folder that is removed with the cluster.

    - Its token: Ray (>= 2.52) protects clusters with a token; left to itself it keeps one in
      ``~/.ray/auth_token`` and fails when none exists yet. Ours is a 0600 file here, handed to every process
      that joins by path (``RAY_AUTH_TOKEN_PATH``), never by value, so it shows in no command line or config.
    - Ray's temp dir (sessions, logs, sockets, and the ``ray_current_cluster`` pointer that ``ray start``
      otherwise writes to ``/tmp/ray``, where a later plain ``ray.init()`` would find the dead cluster and wait).
    """

    def __init__(self) -> None:
        base = tempfile.gettempdir()
        if len(base) > 40:  # Ray's unix sockets live below this folder; their paths are limited to 107 bytes
            base = "/tmp"
        self.folder = Path(tempfile.mkdtemp(prefix="nemo_gym_ray_", dir=base))
        self.temp_dir = self.folder / "ray"
        self.token_path = self.folder / "auth_token"
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))

    def env(self) -> dict[str, str]:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path)}

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with this token in force (a ``RAY_AUTH_TOKEN`` of the user's would take precedence: dropped)."""
        result = {key: value for key, value in env.items() if key not in RAY_AUTH_ENV_VARS}
        result.update(self.env())
        return result

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


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


class LocalRayCluster:
    """A head node started by ng_run with ``ray start --head --block``; stopping it stops the whole cluster.

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
        return [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
            f"--port={self.port}", f"--node-ip-address={self.host}",
            f"--ray-client-server-port={self.client_port}",
            f"--temp-dir={self.private.temp_dir}", "--include-dashboard=false", "--disable-usage-stats",
        ]  # fmt: skip

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.start_command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.child_env(dict(os.environ)),
            preexec_fn=child_preexec,
        )

    def wait_ready(self, timeout_s: float = 120.0, stop: threading.Event | None = None) -> None:
        """Until the GCS accepts connections; returns early when ``stop`` is set (ng_run is shutting down)."""
        deadline = time.monotonic() + timeout_s
        while not _tcp_reachable(self.host, self.port):
            if stop is not None and stop.is_set():
                return
            if self.process is not None and self.process.poll() is not None:
                tail = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                logger.debug("ray start output:\n%s", tail)
                raise SupervisorError(explain_ray_failure(self.process.returncode, tail))
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
