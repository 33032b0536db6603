"""Connecting a process to Ray: a server joins the run's cluster; a server run on its own starts a private one.

The cluster ng_run starts for a run is :class:`nemo_gym.runtime.ray_setup.LocalRayCluster`; it uses the same
:class:`PrivateRayFolder` for its token and temp dir.
"""

import atexit
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nemo_gym.bootstrap.environment import RAY_AUTH_ENV_VARS
from nemo_gym.errors import SupervisorError

RAY_CONNECT_TIMEOUT_S = 120.0
RAY_HEAD_NODE_ADDRESS_KEY = "ray_head_node_address"


def ray_address_from(config: Any) -> str | None:
    """``ray_head_node_address`` from the config, else ``RAY_ADDRESS``, else None (start a new cluster)."""
    address = config.get(RAY_HEAD_NODE_ADDRESS_KEY) if config is not None else None
    return address or os.environ.get("RAY_ADDRESS") or None


def point_at_run_cluster(config: Any) -> None:
    """Join the run's cluster now if this server's code uses Ray; otherwise only say where it is.

    A server whose code never imports ``ray`` never pays for a connection (a second or more at start-up, tens
    of MiB per process). One that imports it (its tasks are defined at module level, as in code written for the
    reference) joins before it serves, waiting for a cluster that is still starting; joining here, before
    uvicorn starts, also leaves uvicorn's own SIGTERM handling in place (``ray.init`` installs one of its own).
    A server that imports Ray only later is joined by ``ensure_ray_initialized()`` or by Ray's
    auto-initialisation, which reads ``RAY_ADDRESS``.
    """
    address = config.get(RAY_HEAD_NODE_ADDRESS_KEY) if config is not None else None
    if not address:
        return
    os.environ["RAY_ADDRESS"] = str(address)
    if "ray" in sys.modules:
        connect_to_run_cluster(config)


def connect_to_run_cluster(config: Any) -> None:
    """Connect this server process to the run's Ray cluster, waiting for it while ng_run is still starting it.

    Without a configured address nothing happens here; code that needs Ray calls ``ensure_ray_initialized()``,
    which starts a private local cluster for a server run on its own.
    """
    import ray

    if ray.is_initialized():
        return
    address = config.get(RAY_HEAD_NODE_ADDRESS_KEY) if config is not None else None
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
    if config is not None and config.get(RAY_HEAD_NODE_ADDRESS_KEY):
        connect_to_run_cluster(config)
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


def initialize_ray() -> None:
    """Connect this process to the run's Ray cluster (``ray_head_node_address``, else ``RAY_ADDRESS``); with
    neither, start a local cluster and record its address under ``ray_head_node_address`` in the global config.

    The reference's argument-less form (``nemo_gym.server_utils.initialize_ray``).
    """
    import ray

    from nemo_gym.global_config import get_global_config_dict

    if ray.is_initialized():
        return
    config = get_global_config_dict()
    address = ray_address_from(config)
    if address:
        connect_to_run_cluster({RAY_HEAD_NODE_ADDRESS_KEY: address})
        return
    ensure_ray_initialized()
    config[RAY_HEAD_NODE_ADDRESS_KEY] = ray.get_runtime_context().gcs_address


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


def remove_abandoned_folders(base: str) -> None:
    """Remove the private Ray folders of earlier runs whose owner died without cleaning up (a SIGKILLed ng_run).

    A folder whose owner is alive, or that cannot be judged (no owner file yet, another user's), is left alone.
    """
    for folder in Path(base).glob(PrivateRayFolder.PREFIX + "*"):
        try:
            pid = int((folder / PrivateRayFolder.OWNER_FILE).read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):  # alive under another user, unreadable, or being created right now
            continue


class PrivateRayFolder:
    """Everything of one cluster we start, in a private 0700 folder that is removed with the cluster.

    - Its token: Ray (>= 2.52) protects clusters with a token; left to itself it keeps one in
      ``~/.ray/auth_token`` and fails when none exists yet. Ours is a 0600 file here, handed to every process
      that joins by path (``RAY_AUTH_TOKEN_PATH``), never by value, so it shows in no command line or config.
    - Ray's temp dir (sessions, logs, sockets, and the ``ray_current_cluster`` pointer that ``ray start``
      otherwise writes to ``/tmp/ray``, where a later plain ``ray.init()`` would find the dead cluster and wait).
    """

    PREFIX = "nemo_gym_ray_"
    OWNER_FILE = "owner_pid"

    def __init__(self) -> None:
        base = self.base_dir()
        remove_abandoned_folders(base)
        self.folder = Path(tempfile.mkdtemp(prefix=self.PREFIX, dir=base))
        self.temp_dir = self.folder / "ray"
        self.token_path = self.folder / "auth_token"
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        (self.folder / self.OWNER_FILE).write_text(str(os.getpid()))

    @staticmethod
    def base_dir() -> str:
        base = tempfile.gettempdir()
        # Ray's unix sockets live below this folder; their paths are limited to 107 bytes
        return "/tmp" if len(base) > 40 else base

    def env(self) -> dict[str, str]:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path)}

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with this token in force (a ``RAY_AUTH_TOKEN`` of the user's would take precedence: dropped)."""
        result = {key: value for key, value in env.items() if key not in RAY_AUTH_ENV_VARS}
        result.update(self.env())
        return result

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
