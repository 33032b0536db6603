"""ng_run's supervisor: spawn one child per server, wait for ``/health``, watch for crashes, shut down cleanly."""

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import yaml

from nemo_gym.bootstrap.environment import server_child_env
from nemo_gym.bootstrap.ray_connection import ray_address_from
from nemo_gym.config.instances import check_server_folders
from nemo_gym.config.loader import ParsedConfig
from nemo_gym.config.paths import repo_root
from nemo_gym.config.ports import check_ports_free
from nemo_gym.config.schema import ServerInstance
from nemo_gym.config.secrets import collect_secret_values, scrubber
from nemo_gym.config.shape import connectable_host
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.child_process import Child, pump_output, start_server_process
from nemo_gym.runtime.head_server import HeadServer, HeadServerState, ServerInstanceRecord
from nemo_gym.runtime.preload import Preloader, adopt_early
from nemo_gym.runtime.process_utils import signal_group
from nemo_gym.runtime.ray_setup import LocalRayCluster, imports_ray_at_start, split_address
from nemo_gym.runtime.replicas import replicated_instances, start_replicas

logger = logging.getLogger("nemo_gym.run")

POLL_INTERVAL_S = 0.1
PENDING_REPORT_INTERVAL_S = 5.0
DEFAULT_STARTUP_TIMEOUT_S = 600.0
# ng_run starts its own Ray cluster once the servers are ready, or after this long at the latest
RAY_DEFER_MAX_S = 5.0
SHUTDOWN_GRACE_S = 6.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Supervisor:
    """Owns every process of one ``ng_run``: the Ray head (if it started one), the head server and the children."""

    def __init__(self, parsed: ParsedConfig, out: IO[str] | None = None) -> None:
        self.parsed = parsed
        self.config = parsed.config
        self.out = out or sys.stdout
        self.children: list[Child] = []
        self.ray_cluster: LocalRayCluster | None = None
        self.preloader: Preloader | None = None
        self._ray_ready = False  # the cluster ng_run started has answered
        self.head: HeadServer | None = None
        self.replicas: Any = None  # a ReplicaManager when some instance has num_replicas
        self._stop = threading.Event()
        self._stop_reason: str | None = None
        self._print_lock = threading.Lock()
        self.session_secret = secrets.token_urlsafe(32)
        scrubber.add(collect_secret_values(_resolved_or_raw(self.config)))

    # ---- output -------------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        with self._print_lock:
            self.out.write(scrubber.scrub(message) + "\n")
            self.out.flush()

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            self.request_stop(signal.Signals(signum).name)

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def run(self) -> int:
        """Start everything, wait until stopped; returns the exit code (0 on a signal, 1 on a crash)."""
        try:
            self.start()
            if self._stop.is_set():
                return 0 if self._stop_reason in ("SIGINT", "SIGTERM") else 1
            count = len(self.children) + (self.replicas.count if self.replicas is not None else 0)
            self.say(f"All {count} / {count} servers ready! Press Ctrl+C to stop.")
            self.watch()
            return 0
        except SupervisorError as error:
            self.say(f"Error: {error}")
            return 1
        finally:
            self.shutdown()

    def start(self) -> None:
        check_server_folders(self.parsed.instances)
        self._check_ports()
        self._warn_if_exposed()
        self._start_preloader()  # first: it imports the servers' libraries while the rest gets ready
        self._start_or_join_ray()
        state = HeadServerState(config=self.config)
        head = self.config["head_server"]
        self.head = HeadServer(state, head["host"], int(head["port"]))
        self.head.start()
        self.say(f"Head server at http://{connectable_host(head['host'])}:{head['port']}")
        config_yaml = yaml.safe_dump(self.config, sort_keys=False)
        replicated = replicated_instances(self.parsed.instances)
        for instance in [instance for instance in self.parsed.instances if instance.name not in replicated]:
            child = self._spawn(instance, config_yaml)
            self.children.append(child)
            state.records.append(_record(child))
        if self.ray_cluster is not None and replicated:  # replicas are Ray actors: they need the cluster now
            self.ray_cluster.wait_ready(stop=self._stop)
            self._check_ray()
        self.replicas = start_replicas(self, state.records, replicated)
        self._wait_until_ready()
        self._start_local_ray()  # when there was no server to wait for
        if self.replicas is not None:
            self.replicas.wait_ready(self._stop)
        self._check_model_upstreams()
        if not self._stop.is_set():
            self._print_table()
            if self.ray_cluster is not None and not self._ray_ready:
                # servers connect to Ray when they first need it; those that do wait for it, bounded
                self.say(f"Ray cluster still starting at {self.ray_cluster.address}")

    def watch(self) -> None:
        while not self._stop.wait(0.2):
            if os.getpid() == 1:
                self._reap_orphans()
            self.check_health()

    def check_health(self) -> None:
        """Raise SupervisorError naming the first server (or the head server) that is no longer running."""
        self._check_crashes()
        self._check_ray()
        if self.replicas is not None:
            self.replicas.check()
        if self.head is not None and not self.head.is_alive():
            raise SupervisorError("head_server finished unexpectedly")

    def shutdown(self) -> None:
        live = [child for child in self.children if child.process.poll() is None]
        if live:
            self.say("Stopping servers...")
        for child in live:
            signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for child in live:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.say(f"{child.instance.name} did not stop within {SHUTDOWN_GRACE_S}s; killing it")
                signal_group(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            # a server's own helper processes (uvicorn workers, sandboxes) share its process group
            signal_group(child.process.pid, signal.SIGKILL)
            if child.reader is not None:
                child.reader.join(timeout=2)
        if self.preloader is not None:
            self.preloader.close()
            self.preloader = None
        if self.replicas is not None:
            self.replicas.stop()
            self.replicas = None
        if self.head is not None:
            self.head.stop()
        if self.ray_cluster is not None:
            self.ray_cluster.stop()
            self.say("Stopped the Ray cluster started by ng_run")
        if self.children or self.head is not None:
            self.say("NeMo Gym finished!")
        self.children = []
        self.head = None
        self.ray_cluster = None

    # ---- steps --------------------------------------------------------------------------------------------
    def _check_ports(self) -> None:
        head = self.config["head_server"]
        named = [("head_server", head["host"], int(head["port"]))]
        named += [(i.name, i.config.host, int(i.config.port)) for i in self.parsed.instances]
        check_ports_free(named)

    def _warn_if_exposed(self) -> None:
        hosts = {self.config["head_server"]["host"]} | {i.config.host for i in self.parsed.instances}
        exposed = sorted(host for host in hosts if host not in LOOPBACK_HOSTS)
        if exposed:
            self.say(
                f"WARNING: servers listen on {', '.join(exposed)} and are reachable from the network. They have no "
                "authentication: expose them only on networks you trust."
            )

    def _start_or_join_ray(self) -> None:
        address = ray_address_from(self.config)
        if address:
            self.config["ray_head_node_address"] = address
            self.say(f"Connecting to Ray cluster at specified address: {address}")
            host, port = split_address(address)
            _wait_tcp(host, port, 30.0, f"ray_head_node_address: no Ray cluster answers at {address}")
            return
        self.ray_cluster = LocalRayCluster()
        self.config["ray_head_node_address"] = self.ray_cluster.address
        folders = [repo_root() / instance.dir_path for instance in self.parsed.instances]
        if replicated_instances(self.parsed.instances) or imports_ray_at_start(folders):
            self._start_local_ray()
        # else the servers start first, with both cores: the cluster comes up behind them (_wait_until_ready)

    def _start_local_ray(self) -> None:
        if self.ray_cluster is not None and self.ray_cluster.process is None:
            self.say("Starting Ray cluster...")
            self.ray_cluster.start()

    def _spawn(self, instance: ServerInstance, config_yaml: str) -> Child:
        server_dir = repo_root() / instance.dir_path
        env = server_child_env(
            os.environ,
            config_yaml=config_yaml,
            instance_name=instance.name,
            python_path=[str(server_dir), str(repo_root())],
            session_secret=self.session_secret,
        )
        if self.ray_cluster is not None:
            env = self.ray_cluster.child_env(env)  # the run's own Ray token; a joined cluster keeps the user's
        python = self._python_for(instance, server_dir)
        process = start_server_process(self.preloader, python, instance, server_dir, env, self.say)
        child = Child(instance=instance, process=process, start_time=time.time())
        child.reader = threading.Thread(
            target=pump_output, args=(child, process.stdout, self.out, self._print_lock), daemon=True
        )
        child.reader.start()
        return child

    def _start_preloader(self) -> None:
        """The process servers are forked from (``preload_servers``, on by default; see ``runtime/preload.py``)."""
        early = adopt_early()
        if self.config.get("preload_servers", True) is False or not self.parsed.instances:
            if early is not None:
                early.close()
            return
        try:
            self.preloader = early or Preloader()
        except OSError as error:
            self.say(f"Starting servers without the preloader ({error})")

    def _python_for(self, instance: ServerInstance, server_dir: Path) -> str:
        from nemo_gym.runtime.isolated_envs import python_for_server

        return python_for_server(self.config, instance, server_dir, self.say)

    def _wait_until_ready(self) -> None:
        timeout = float(self.config.get("startup_timeout_s") or DEFAULT_STARTUP_TIMEOUT_S)
        if self.children:
            self.say(f"Waiting for {len(self.children)} servers to be ready...")
        started = time.monotonic()
        next_report = started + PENDING_REPORT_INTERVAL_S
        with httpx.Client(timeout=1.0) as client:
            while not self._stop.is_set():
                self._check_crashes()
                self._check_ray()
                pending = [child for child in self.children if not child.ready]
                for child in pending:
                    try:
                        child.ready = client.get(child.health_url).status_code == 200
                    except httpx.HTTPError:
                        pass
                pending = [child.instance.name for child in self.children if not child.ready]
                now = time.monotonic()
                if not pending or now - started > RAY_DEFER_MAX_S:
                    self._start_local_ray()  # (a server that needs Ray but was not seen to is not held up long)
                if not pending:
                    return
                if now - started > timeout:
                    raise SupervisorError(f"servers not ready after {timeout:.0f}s (startup_timeout_s): {pending}")
                if now >= next_report:
                    self.say(f"Still waiting for {len(pending)} server(s): {', '.join(pending)}")
                    next_report = now + PENDING_REPORT_INTERVAL_S
                self._stop.wait(POLL_INTERVAL_S)

    def _check_model_upstreams(self) -> None:
        """One warning per model upstream that does not answer ``/models`` (model_upstream_wait_s: a bounded wait)."""
        from nemo_gym.runtime.upstream_check import check_model_upstreams, model_upstreams

        if not self._stop.is_set():
            upstreams = model_upstreams(self.config, self.parsed.instances)
            check_model_upstreams(self.config, upstreams, self.say, self._stop)

    def _reap_orphans(self) -> None:
        """As PID 1 (a container's CMD) orphaned grandchildren are ours to reap, but not our own children."""
        own = {child.process.pid for child in self.children}
        if self.preloader is not None:
            own.add(self.preloader.pid)
        if self.ray_cluster is not None and self.ray_cluster.process is not None:
            own.add(self.ray_cluster.process.pid)
        for process in psutil.Process().children():
            try:
                if process.pid not in own and process.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(process.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                pass

    def _check_ray(self) -> None:
        """Announce the run's own Ray cluster once it answers; raise (one line) if it gave up."""
        if self.ray_cluster is None or self._ray_ready:
            return
        if self.ray_cluster.poll_ready():
            self._ray_ready = True
            self.say(f"Started Ray cluster at {self.ray_cluster.address}")

    def _check_crashes(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            if child.reader is not None:
                child.reader.join(timeout=1)
            tail = "\n".join(f"    {line}" for line in child.tail) or "    (no output)"
            raise SupervisorError(
                f"server {child.instance.name!r} (pid {child.process.pid}) exited with code {code}. "
                f"Last {len(child.tail)} lines of its output:\n{tail}"
            )

    def _print_table(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="NeMo Gym servers")
        for column in ("name", "type", "implementation", "url", "pid"):
            table.add_column(column)
        for child in self.children:
            instance = child.instance
            url = f"http://{instance.config.host}:{instance.config.port}"
            table.add_row(instance.name, instance.server_type, instance.implementation, url, str(child.process.pid))
        for row in self.replicas.table_rows() if self.replicas is not None else []:
            table.add_row(*row)
        with self._print_lock:
            Console(file=self.out, width=140).print(table)


def _record(child: Child) -> ServerInstanceRecord:
    instance = child.instance
    return ServerInstanceRecord(
        process_name=instance.name,
        server_type=instance.server_type,
        name=instance.implementation,
        dir_path=str(repo_root() / instance.dir_path),
        entrypoint=instance.config.entrypoint,
        host=instance.config.host,
        port=instance.config.port,
        pid=child.process.pid,
        start_time=child.start_time,
    )


def _wait_tcp(host: str, port: int, timeout_s: float, message: str) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SupervisorError(message) from None
            time.sleep(0.2)


def _resolved_or_raw(config: dict[str, Any]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(OmegaConf.create(config), resolve=True)
    except Exception:  # unresolvable keys are reported where they are used
        return config
