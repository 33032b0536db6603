"""``ng_run``: start (or join) Ray, the head server and one process per configured server, then supervise.

It is ``RunHelper.run_forever()``, the code path trainers use through ``RunHelper.start()``.
"""

import sys
import types

from nemo_gym.cli.common import BaseNeMoGymCLIConfig, command


class RunServersConfig(BaseNeMoGymCLIConfig):
    """Start every server named in ``+config_paths=[...]`` and keep them running until Ctrl+C or SIGTERM."""

    config_paths: list[str] | None = None


@command
def main() -> int:
    from nemo_gym.runtime.preload import start_early

    start_early()  # the servers' libraries import in the preloader while ng_run imports its own
    from nemo_gym.runtime.run_helper import RunHelper

    return RunHelper(command_config=RunServersConfig).run_forever()


class _CallableRunModule(types.ModuleType):
    """Python binds this module to ``nemo_gym.cli.run``, the name of the reference's ``run()`` function; calling
    the module runs ``ng_run``, so ``from nemo_gym.cli import run; run()`` does what it does in the reference."""

    def __call__(self) -> None:
        main()


sys.modules[__name__].__class__ = _CallableRunModule
