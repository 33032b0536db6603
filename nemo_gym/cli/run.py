"""``ng_run``: start (or join) Ray, the head server and one process per configured server, then supervise."""

from nemo_gym.cli.common import BaseNeMoGymCLIConfig, command, validate_command_config
from nemo_gym.config.cli_overrides import parse_overrides
from nemo_gym.config.loader import parse_config
from nemo_gym.runtime.supervisor import Supervisor


class RunConfig(BaseNeMoGymCLIConfig):
    """Start every server named in ``+config_paths=[...]`` and keep them running until Ctrl+C or SIGTERM."""

    config_paths: list[str] | None = None


@command
def main() -> int:
    overrides = parse_overrides()
    validate_command_config(RunConfig, overrides)
    parsed = parse_config(overrides)
    supervisor = Supervisor(parsed)
    supervisor.install_signal_handlers()
    return supervisor.run()
