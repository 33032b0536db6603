"""Ray: ng_run starts a local cluster (or joins one); every server process connects to that same cluster."""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from nemo_gym.config.ports import find_open_port
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.process_utils import child_preexec

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
    # happens to run on this machine.
    ray.init(
        address="local",
        runtime_env=job_runtime_env(),
        ignore_reinit_error=True,
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level=logging.WARNING,
    )


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


class LocalRayCluster:
    """A head node started by ng_run with ``ray start --head --block``; stopping it stops the whole cluster."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = find_open_port()
        self.client_port = find_open_port([self.port])
        self.address = f"{host}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
            f"--port={self.port}", f"--node-ip-address={self.host}",
            f"--ray-client-server-port={self.client_port}",
            "--include-dashboard=false", "--disable-usage-stats",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
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
                raise SupervisorError(
                    f"the local Ray cluster exited with code {self.process.returncode}: {tail.strip()[-800:]}"
                )
            if time.monotonic() > deadline:
                raise SupervisorError(f"the local Ray cluster did not come up on {self.address} within {timeout_s}s")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 8.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
