"""Server instances run as N replicas placed by Ray across a cluster's nodes, supervised by ng_run.

An instance with ``num_replicas: N`` in its config is not started as a local process. Instead ng_run creates N
Ray actors (scheduling strategy ``SPREAD``, with the instance's ``replica_resources``); each actor picks a free
port on its node and runs the server's unchanged entrypoint (``python app.py`` in the server's folder, with
``NEMO_GYM_CONFIG_DICT`` / ``NEMO_GYM_CONFIG_PATH``) as a child process serving on that node's address. The
head server lists every replica as an entry of its own in ``/server_instances``; ``ServerClient`` spreads calls
over the ready ones (see :mod:`nemo_gym.http.replica_routing`).

A replica whose process exits (or whose node goes away) is reported with its last output lines; then, by the
instance's ``replica_failure_policy``, it is restarted on whichever node Ray picks (``restart``, the default,
with a back-off while it keeps failing before it is ready) or the run stops as for a crashed local server
(``stop``).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from nemo_gym.config.paths import repo_root
from nemo_gym.config.replicas import ReplicaSettings, replica_settings
from nemo_gym.config.schema import ServerInstance
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.head_server import ServerInstanceRecord

logger = logging.getLogger("nemo_gym.replicas")

MONITOR_INTERVAL_S = 0.5
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_GRACE_S = 6.0

ReplicaState = Literal["starting", "ready", "restarting", "dead", "stopped"]


class ReplicaRecord(ServerInstanceRecord):
    """A replica's ``/server_instances`` entry: the usual fields plus its index, node and state."""

    def __init__(self, base: ServerInstanceRecord, index: int) -> None:
        super().__init__(**{name: getattr(base, name) for name in base.__dataclass_fields__})
        self.replica_index = index
        self.node_id: str | None = None
        self.replica_state: ReplicaState = "starting"

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "replica_index": self.replica_index,
            "node_id": self.node_id,
            "replica_state": self.replica_state,
        }


@dataclass
class Replica:
    instance: ServerInstance
    settings: ReplicaSettings
    record: ReplicaRecord
    actor: Any = None
    start_ref: Any = None
    failures_before_ready: int = 0
    restart_at: float | None = None
    health_deadline: float = 0.0
    state: ReplicaState = "starting"
    restarts: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.instance.name}#{self.record.replica_index}"


class ReplicaManager:
    """Places, watches and stops the replicas of every replicated instance of one run.

    ``start`` creates the actors (non-blocking); ``wait_ready`` returns once every replica answers ``/health``;
    a monitor thread then forwards their output, reports deaths and applies each instance's failure policy;
    ``check`` raises the failure that a ``stop`` policy turned into the end of the run; ``stop`` ends every
    replica process and actor on every node.
    """

    def __init__(
        self,
        instances: list[tuple[ServerInstance, ReplicaSettings]],
        config: dict[str, Any],
        env: dict[str, str],
        records: list[ServerInstanceRecord],
        say: Callable[[str], None],
        startup_timeout_s: float,
    ) -> None:
        self.config = config
        self.env = env
        self.say = say
        self.startup_timeout_s = startup_timeout_s
        self.replicas: list[Replica] = []
        for instance, settings in instances:
            for index in range(settings.num_replicas):
                record = ReplicaRecord(_base_record(instance), index)
                records.append(record)
                self.replicas.append(Replica(instance=instance, settings=settings, record=record))
        self._failure: SupervisorError | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None
        self._http = httpx.Client(timeout=1.0)
        self.owns_driver = False
        self.origin_host: str | None = None  # ng_run's address as the cluster sees it

    @property
    def count(self) -> int:
        return len(self.replicas)

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(name#index, type, implementation, url, pid) per replica, for ng_run's table of servers."""
        return [
            (r.label, r.instance.server_type, r.instance.implementation, str(r.record.url), str(r.record.pid))
            for r in self.replicas
        ]

    # ---- start-up -----------------------------------------------------------------------------------------
    def start(self) -> None:
        for replica in self.replicas:
            self._launch(replica)

    def wait_ready(self, stop: threading.Event) -> None:
        """Until every replica is ready; a replica that exits or is not ready in time ends the start-up."""
        self.say(f"Waiting for {len(self.replicas)} replica(s) to be ready...")
        deadline = time.monotonic() + self.startup_timeout_s
        while not stop.is_set():
            self._step(starting_up=True)
            pending = [replica.label for replica in self.replicas if replica.state != "ready"]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"replicas not ready after {self.startup_timeout_s:.0f}s (startup_timeout_s): {pending} -- "
                    "does the cluster have the resources of replica_resources free?"
                )
            stop.wait(0.1)
        self._monitor = threading.Thread(target=self._watch, name="replica_monitor", daemon=True)
        self._monitor.start()

    def check(self) -> None:
        """Raise the failure that ended the run under ``replica_failure_policy: stop`` (if any)."""
        if self._failure is not None:
            raise self._failure

    # ---- supervision --------------------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(MONITOR_INTERVAL_S):
            try:
                self._step(starting_up=False)
            except SupervisorError as error:
                self._failure = error
                return
            except Exception as error:  # never let a Ray hiccup kill supervision silently
                logger.warning("replica monitor: %s: %s", type(error).__name__, error)

    def _step(self, starting_up: bool) -> None:
        import ray

        with self._lock:
            if self._stop.is_set():
                return
            now = time.monotonic()
            for replica in self.replicas:
                if replica.state == "restarting" and replica.restart_at is not None and now >= replica.restart_at:
                    self._launch(replica)
            polls = {
                id(r): r.actor.poll.remote() for r in self.replicas if r.actor is not None and r.start_ref is None
            }
            for replica in self.replicas:
                if replica.start_ref is not None:
                    self._collect_start(replica, ray, starting_up)
            for replica in self.replicas:
                ref = polls.get(id(replica))
                if ref is None:
                    continue
                try:
                    returncode, lines = ray.get(ref, timeout=10)
                except Exception as error:  # the actor or its node is gone
                    self._died(replica, f"its Ray actor is gone ({type(error).__name__})", starting_up)
                    continue
                for line in lines:
                    self.say(f"({replica.label}) {line}")
                    replica.lines = (replica.lines + [line])[-40:]
                if returncode is not None:
                    self._died(replica, f"exited with code {returncode}", starting_up)
                elif replica.state == "starting":
                    self._probe(replica, starting_up)

    def _launch(self, replica: Replica) -> None:
        import ray

        from nemo_gym.runtime.replica_actor import remote_replica_class

        options = {**replica.settings.actor_options, "scheduling_strategy": "SPREAD", "max_restarts": 0}
        replica.actor = remote_replica_class(ray).options(**options).remote()
        spec = {
            "name": replica.instance.name,
            "server_type": replica.instance.server_type,
            "implementation": replica.instance.implementation,
            "index": replica.record.replica_index,
            "server_dir": str(repo_root() / replica.instance.dir_path),
            "entrypoint": replica.instance.config.entrypoint,
            "config": self.config,
            "env": self.env,
            "origin_host": self.origin_host,
        }
        replica.start_ref = replica.actor.start.remote(spec)
        replica.state = replica.record.replica_state = "starting"
        replica.restart_at = None
        replica.record.start_time = time.time()

    def _collect_start(self, replica: Replica, ray: Any, starting_up: bool) -> None:
        done, _ = ray.wait([replica.start_ref], timeout=0)
        if not done:
            return
        ref, replica.start_ref = replica.start_ref, None
        try:
            info = ray.get(ref)
        except Exception as error:
            self._died(replica, f"could not start ({type(error).__name__}: {str(error)[:300]})", starting_up)
            return
        record = replica.record
        record.host, record.port, record.pid, record.node_id = info["host"], info["port"], info["pid"], info["node_id"]
        replica.health_deadline = time.monotonic() + self.startup_timeout_s
        self.say(f"{replica.label}: started on node {info['node_id'][:12]} at {record.url} (pid {info['pid']})")

    def _probe(self, replica: Replica, starting_up: bool) -> None:
        try:
            ready = self._http.get(f"{replica.record.url}/health").status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready:
            replica.state = replica.record.replica_state = "ready"
            replica.failures_before_ready = 0
            if not starting_up:
                self.say(f"{replica.label}: ready again at {replica.record.url}")
        elif time.monotonic() > replica.health_deadline:
            self._died(replica, f"did not answer /health within {self.startup_timeout_s:.0f}s", starting_up)

    def _died(self, replica: Replica, why: str, starting_up: bool) -> None:
        record = replica.record
        tail = "\n".join(f"    {line}" for line in replica.lines) or "    (no output)"
        message = (
            f"replica {replica.label} of server {replica.instance.name!r} (pid {record.pid}, node "
            f"{(record.node_id or '?')[:12]}) {why}. Last {len(replica.lines)} lines of its output:\n{tail}"
        )
        self._end_actor(replica)
        replica.lines = []
        if starting_up or replica.settings.failure_policy == "stop":
            replica.state = record.replica_state = "dead"
            raise SupervisorError(message)
        delay = RESTART_BACKOFF_S[min(replica.failures_before_ready, len(RESTART_BACKOFF_S) - 1)]
        replica.failures_before_ready += 1
        replica.restarts += 1
        replica.state = record.replica_state = "restarting"
        replica.restart_at = time.monotonic() + delay
        self.say(f"{message}\n{replica.label}: restarting in {delay:.0f}s (replica_failure_policy: restart)")

    def _end_actor(self, replica: Replica) -> None:
        import ray

        actor, replica.actor, replica.start_ref = replica.actor, None, None
        if actor is not None:
            try:
                ray.get(actor.stop.remote(), timeout=STOP_GRACE_S + 2)
            except Exception:  # gone already: nothing left to stop
                pass
            ray.kill(actor, no_restart=True)

    # ---- shutdown -----------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every replica process (SIGTERM, then SIGKILL), then kill the actors; waits for all of them."""
        import ray

        self._stop.set()
        self.say(f"Stopping {len(self.replicas)} replica(s)...")
        with self._lock:
            actors = [replica.actor for replica in self.replicas if replica.actor is not None]
            refs = []
            for actor in actors:
                try:
                    refs.append(actor.stop.remote())
                except Exception:  # an actor that is already gone has nothing to stop
                    pass
            if refs:
                ray.wait(refs, num_returns=len(refs), timeout=STOP_GRACE_S + 4)
            for actor in actors:
                ray.kill(actor, no_restart=True)
            for replica in self.replicas:
                replica.actor = replica.start_ref = None
                replica.state = replica.record.replica_state = "stopped"
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        self._http.close()
        if self.owns_driver:
            ray.shutdown()


def replicated_instances(instances: list[ServerInstance]) -> dict[str, ReplicaSettings]:
    """The instances that run as replicas (``num_replicas`` set), by name; their keys are validated here."""
    settings = {instance.name: replica_settings(instance) for instance in instances}
    return {name: value for name, value in settings.items() if value is not None}


def start_replicas(
    supervisor: Any, records: list[ServerInstanceRecord], replicated: dict[str, ReplicaSettings]
) -> ReplicaManager | None:
    """ng_run's hook: connect to the run's cluster as a driver and place every replica (None if there are none)."""
    if not replicated or supervisor.stop_requested:
        return None
    cluster = supervisor.ray_cluster
    auth_env = cluster.child_env({}) if cluster is not None else None
    count = sum(settings.num_replicas for settings in replicated.values())
    supervisor.say(f"Placing {count} replica(s) of {', '.join(replicated)} on the Ray cluster...")
    owns_driver = connect_driver(supervisor.config["ray_head_node_address"], auth_env)
    env = {"NEMO_GYM_SESSION_SECRET": supervisor.session_secret, **(auth_env or {})}
    instances = [(i, replicated[i.name]) for i in supervisor.parsed.instances if i.name in replicated]
    timeout = float(supervisor.config.get("startup_timeout_s") or 600.0)
    manager = ReplicaManager(instances, supervisor.config, env, records, supervisor.say, timeout)
    manager.owns_driver = owns_driver
    manager.origin_host = ray_node_ip()
    manager.start()
    return manager


def _base_record(instance: ServerInstance) -> ServerInstanceRecord:
    return ServerInstanceRecord(
        process_name=instance.name,
        server_type=instance.server_type,
        name=instance.implementation,
        dir_path=str(repo_root() / instance.dir_path),
        entrypoint=instance.config.entrypoint,
        host=None,
        port=None,
        pid=None,
        start_time=time.time(),
    )


def ray_node_ip() -> str:
    import ray

    return ray.util.get_node_ip_address()


def connect_driver(address: str, auth_env: dict[str, str] | None) -> bool:
    """Connect this process (ng_run) to the cluster as a Ray driver; True when this call connected it.

    ``auth_env`` is the token of a cluster ng_run started (else the user's own ``RAY_AUTH_*`` apply). A process
    that is already connected (a trainer's actor running ``RunHelper``) keeps its connection.
    """
    import os
    import sys

    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        return False
    if auth_env:
        os.environ.pop("RAY_AUTH_TOKEN", None)
        os.environ.update(auth_env)
        if "ray" in sys.modules:  # Ray caches its auth settings per process
            from ray._raylet import AuthenticationTokenLoader, Config

            Config.initialize("")
            AuthenticationTokenLoader.instance().reset_cache()
    import ray

    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, namespace="nemo_gym_replicas")
    return True
