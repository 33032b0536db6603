"""What runs inside a replica's Ray actor: the server's own entrypoint as a child process on the actor's node.

The actor picks a free port on its node, gives the server a config in which its own instance listens there,
and runs ``python <entrypoint>`` in the server's folder exactly as ng_run runs a local server. The child is in
its own process group and gets SIGTERM when the actor's worker dies, so killing the actor ends the server.
"""

import collections
import copy
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from nemo_gym.http.replica_routing import REPLICA_URL_ENV

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
OUTPUT_BUFFER_LINES = 2000
MAX_LINE_BYTES = 8192  # a longer line is forwarded in pieces, never held whole

_remote_class: Any = None


def remote_replica_class(ray: Any) -> Any:
    """``ReplicaProcess`` as a Ray actor class (made once per process)."""
    global _remote_class
    if _remote_class is None:
        _remote_class = ray.remote(ReplicaProcess)
    return _remote_class


def replica_hosts(configured: str | None, node_ip: str) -> tuple[str, str]:
    """(listen host, advertised host) for a replica whose instance is configured with ``configured``.

    A loopback host keeps the replica on loopback (a cluster of one machine); a wildcard listens everywhere
    and is reached at the node's address; any other address means "this node's address".
    """
    if configured in LOOPBACK_HOSTS:
        return "127.0.0.1", "127.0.0.1"
    if configured in WILDCARD_HOSTS or configured is None:
        return configured or "0.0.0.0", node_ip
    return node_ip, node_ip


def replica_config(config: dict[str, Any], spec: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    """The run's config as this replica sees it: its own instance listens on ``host:port``.

    ``num_replicas`` is dropped from its own entry, so that the server's calls to its own instance name reach
    itself; ``replica_index`` tells the server which replica it is. The head server and the local servers that
    listen on all interfaces (``0.0.0.0``) are reached at ng_run's machine (``spec["origin_host"]``), which on
    another node is not "this machine".
    """
    result = copy.deepcopy(config)
    origin = spec.get("origin_host")
    for value in result.values() if origin else ():
        if isinstance(value, dict) and value is result.get("head_server"):
            candidates = [value]
        elif isinstance(value, dict):
            levels = [impl for kind in value.values() if isinstance(kind, dict) for impl in kind.values()]
            candidates = [fields for fields in levels if isinstance(fields, dict) and "entrypoint" in fields]
        else:
            continue
        for fields in candidates:
            if fields.get("host") in WILDCARD_HOSTS[:2]:
                fields["host"] = origin
    fields = result[spec["name"]][spec["server_type"]][spec["implementation"]]
    fields.pop("num_replicas", None)
    fields.update(host=host, port=port, replica_index=spec["index"])
    return result


class ReplicaProcess:
    """A Ray actor owning one server process on its node (see the module docstring)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=OUTPUT_BUFFER_LINES)
        self.lock = threading.Lock()

    def start(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Start the server; returns where it listens (``host``, ``port``), its ``pid`` and the ``node_id``."""
        import ray
        import yaml

        from nemo_gym.bootstrap.environment import server_child_env
        from nemo_gym.config.ports import find_open_port
        from nemo_gym.runtime.process_utils import child_preexec

        fields = spec["config"][spec["name"]][spec["server_type"]][spec["implementation"]]
        listen, advertised = replica_hosts(fields.get("host"), ray.util.get_node_ip_address())
        port = find_open_port(host=listen)
        config = replica_config(spec["config"], spec, listen, port)
        base = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # joins via its config
        env = server_child_env(
            {**base, **spec["env"]},
            config_yaml=yaml.safe_dump(config, sort_keys=False),
            instance_name=spec["name"],
            python_path=[spec["server_dir"], os.path.dirname(os.path.dirname(spec["server_dir"]))],
        )
        env[REPLICA_URL_ENV] = f"http://{advertised}:{port}"
        self.process = subprocess.Popen(
            [sys.executable, spec["entrypoint"]],
            cwd=spec["server_dir"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=child_preexec,
        )
        threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True).start()
        node_id = ray.get_runtime_context().get_node_id()
        return {"host": advertised, "port": port, "pid": self.process.pid, "node_id": node_id}

    def _pump(self, stream: Any) -> None:
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def poll(self) -> tuple[int | None, list[str]]:
        """(exit code or None while running, the output lines since the last call)."""
        with self.lock:
            lines = list(self.lines)
            self.lines.clear()
        return (self.process.poll() if self.process is not None else None), lines

    def stop(self, grace_s: float = 6.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL it after ``grace_s``; returns its exit code."""
        from nemo_gym.runtime.process_utils import signal_group

        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        signal_group(process.pid, signal.SIGKILL)  # its helpers (uvicorn workers, sandboxes) share the group
        return process.wait()
