"""``RunHelper``: start every configured server from Python, as ``ng_run`` does, and stop them again.

Trainers (NeMo RL) call it inside a Ray actor of their own::

    rh = RunHelper()
    rh.start(global_config_dict_parser_config=GlobalConfigDictParserConfig(
        dotenv_path=Path("env.yaml"), initial_global_config_dict=DictConfig(config), skip_load_from_cli=True))
    ...            # rollouts through RolloutCollectionHelper.run_examples(...)
    rh.poll()      # raises if a server process died
    rh.shutdown()  # every process it started is gone; another RunHelper may start afterwards

``ng_run`` is ``RunHelper(...).run_forever()``: the same parse and the same supervisor, plus signal handling.
"""

import os
import sys
from typing import IO

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel

from nemo_gym.config.loader import ParsedConfig
from nemo_gym.config.parser import GlobalConfigDictParser, GlobalConfigDictParserConfig
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.supervisor import Supervisor


class ServerProcessDiedError(SupervisorError, RuntimeError):
    """A server started by a RunHelper is no longer running (the message names it and quotes its last output)."""


class RunHelper:
    """Owns one set of running servers: the head server and one process per configured server instance."""

    def __init__(self, command_config: type[BaseModel] | None = None, out: IO[str] | None = None) -> None:
        # command_config: the command's parameter class, checked (``+help=true`` included) when argv is read.
        self._command_config = command_config
        self._out = out
        self._supervisor: Supervisor | None = None

    # ---- the trainer's API --------------------------------------------------------------------------------
    def start(self, global_config_dict_parser_config: GlobalConfigDictParserConfig | None = None) -> None:
        """Parse the config, start the head server and every server, and return once all of them answer.

        Without ``skip_load_from_cli`` the command line (``sys.argv``) is read too. The servers join the Ray
        cluster at ``ray_head_node_address``, else the cluster this process is already connected to, else a new
        local one. If anything fails on the way, whatever was started is stopped before the error is raised.
        Afterwards ``get_global_config_dict()`` returns the resolved config of this run.
        """
        if self._supervisor is not None:
            raise RuntimeError("RunHelper.start: already started; call shutdown() first")
        supervisor = self._prepare(global_config_dict_parser_config)
        try:
            supervisor.start()
            if supervisor.stop_requested:
                raise SupervisorError(f"start-up interrupted ({supervisor.stop_reason})")
        except BaseException:
            supervisor.shutdown()
            self._supervisor = None
            raise

    def poll(self) -> None:
        """Raise ``ServerProcessDiedError`` naming the first server (or the head server) that is not running.

        Cheap and thread-safe enough to be called as a health check from a trainer's worker thread.
        """
        supervisor = self._require_started("poll")
        try:
            supervisor.check_health()
        except SupervisorError as error:
            raise ServerProcessDiedError(str(error)) from None

    def shutdown(self) -> None:
        """Stop every process this helper started (SIGTERM, then SIGKILL after a grace period) and the head server.

        Returns within about 10 s; afterwards no process of this run is left and its ports are free. A Ray cluster
        this helper joined keeps running. Calling it again, or before ``start``, does nothing.
        """
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.shutdown()

    def run_forever(self, global_config_dict_parser_config: GlobalConfigDictParserConfig | None = None) -> int:
        """What ``ng_run`` does: start, then watch until SIGINT/SIGTERM or a crash, then shut down.

        Returns the exit code: 0 when stopped by a signal, 1 when a server died or failed to start.
        """
        if self._supervisor is not None:
            raise RuntimeError("RunHelper.run_forever: already started; call shutdown() first")
        supervisor = self._prepare(global_config_dict_parser_config)
        supervisor.install_signal_handlers()
        try:
            return supervisor.run()
        finally:
            self._supervisor = None

    def get_global_config_dict(self) -> DictConfig:
        """The config of the running servers (hosts, ports and Ray address filled in)."""
        return OmegaConf.create(self._require_started("get_global_config_dict").config)

    # ---- internals ----------------------------------------------------------------------------------------
    def _prepare(self, settings: GlobalConfigDictParserConfig | None) -> Supervisor:
        from nemo_gym.global_config import set_global_config_dict

        settings = settings or GlobalConfigDictParserConfig()
        parsed = GlobalConfigDictParser().parse_to_instances(settings)
        if self._command_config is not None and not settings.skip_load_from_cli:
            from nemo_gym.cli.common import validate_command_config

            validate_command_config(self._command_config, parsed.config)
        _join_current_ray_cluster(parsed)
        set_global_config_dict(parsed.config)
        self._supervisor = Supervisor(parsed, out=self._out)
        return self._supervisor

    def _require_started(self, what: str) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError(f"RunHelper.{what}: not started; call start() first")
        return self._supervisor


def _join_current_ray_cluster(parsed: ParsedConfig) -> None:
    """Inside a Ray worker or driver (a trainer's actor) with no address configured, use that process's cluster."""
    if parsed.config.get("ray_head_node_address") or os.environ.get("RAY_ADDRESS"):
        return
    ray = sys.modules.get("ray")  # never import Ray just to find out (ng_run starts without it)
    if ray is None or not ray.is_initialized():
        return
    parsed.config["ray_head_node_address"] = ray.get_runtime_context().gcs_address
