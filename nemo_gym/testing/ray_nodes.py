"""A Ray cluster of several nodes on one machine, for tests and benchmarks of replicas.

The head is ng_run's own :class:`LocalRayCluster` (private token and temp dir); each further node is a
``ray start --address=<head> --block`` process with that token. Every node gets a custom resource of its own
(``node_0``, ``node_1``, ...), so that a test can tell which node a process landed on.
"""

import json
import os
import signal
import subprocess
import sys
import time

import psutil

from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.process_utils import child_preexec, signal_group
from nemo_gym.runtime.ray_setup import LocalRayCluster

STARTED_MARKER = "Ray runtime started"


class LocalRayNodes:
    """``nodes`` Ray nodes on this machine, ``cpus_per_node`` logical CPUs each; ``stop()`` ends all of them."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 4) -> None:
        self.head = LocalRayCluster()
        self.cpus_per_node = cpus_per_node
        base = self.head.start_command()
        self.head.start_command = lambda: [*base, *self._node_args(0)]
        self.workers: list[subprocess.Popen[bytes]] = []
        self.count = nodes

    @property
    def address(self) -> str:
        return self.head.address

    def auth_env(self) -> dict[str, str]:
        """``RAY_AUTH_MODE`` / ``RAY_AUTH_TOKEN_PATH`` of this cluster (the token by path, never by value)."""
        return self.head.child_env({})

    def _node_args(self, index: int) -> list[str]:
        return [f"--num-cpus={self.cpus_per_node}", f"--resources={json.dumps({f'node_{index}': 1})}"]

    def start(self, timeout_s: float = 120.0) -> None:
        self.head.start()
        self.head.wait_ready(timeout_s)
        env = self.head.child_env(dict(os.environ))
        env.pop("RAY_ADDRESS", None)
        # the nodes' sessions and logs go to the head's private folder (removed with it), not to /tmp/ray
        env["RAY_TMPDIR"] = str(self.head.private.folder / "n")
        logs = []
        for index in range(1, self.count):
            command = [
                sys.executable, "-m", "ray.scripts.scripts", "start", f"--address={self.address}", "--block",
                f"--node-ip-address={self.head.host}", "--disable-usage-stats", *self._node_args(index),
            ]  # fmt: skip
            logs.append(self.head.private.folder / f"node_{index}.log")
            with logs[-1].open("wb") as log:
                self.workers.append(
                    subprocess.Popen(
                        command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        preexec_fn=child_preexec,
                    )
                )  # fmt: skip
        # `ray start` prints this once its node is registered with the cluster
        deadline = time.monotonic() + timeout_s
        while not all(STARTED_MARKER in log.read_text(errors="replace") for log in logs):
            if any(worker.poll() is not None for worker in self.workers) or time.monotonic() > deadline:
                self.stop()
                raise SupervisorError(f"the {self.count}-node local Ray cluster did not come up")
            time.sleep(0.1)

    def node_processes(self) -> list[psutil.Process]:
        """The ``ray start`` process of each node, head first."""
        processes = [self.head.process, *self.workers]
        return [psutil.Process(process.pid) for process in processes if process is not None]

    def node_of(self, pid: int) -> int | None:
        """The index of the node whose processes include ``pid`` (None: on no node of this cluster)."""
        for index, node in enumerate(self.node_processes()):
            if pid in _node_pids(node):
                return index
        return None

    def all_pids(self) -> set[int]:
        pids: set[int] = set()
        for node in self.node_processes():
            pids |= _node_pids(node)
        return pids

    def stop(self) -> None:
        """Kill the worker nodes (a whole process group each: no draining), then stop the head."""
        for worker in self.workers:
            signal_group(worker.pid, signal.SIGKILL)
            worker.wait()
        self.workers = []
        self.head.stop()


def _node_pids(node: psutil.Process) -> set[int]:
    """A node's processes: its ``ray start`` process's tree, and its process group (the head's GCS, raylet and
    workers stay in the group of the shell that holds it, without being its descendants)."""
    pids = {node.pid}
    try:
        pids |= {child.pid for child in node.children(recursive=True)}
    except psutil.Error:
        pass
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == node.pid:
                pids |= {process.pid, *(child.pid for child in process.children(recursive=True))}
        except (OSError, psutil.Error):
            pass
    return pids
