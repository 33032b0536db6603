"""Console scripts, and the reference's ``nemo_gym.cli`` names for code that imports them.

Each command module is thin: parse the config, call the library, print the result. The public names are loaded
on first use, so ``import nemo_gym.cli.common`` (done by every command) stays cheap:

- ``RunHelper`` (start/poll/shutdown the servers from Python; what trainers use) and ``run`` (``ng_run``);
- ``RunConfig`` (a command acting on one server folder: ``entrypoint``), ``TestConfig``/``test`` (``ng_test``),
  ``TestAllConfig``/``test_all``, ``dev_test``, ``init_resources_server``, ``PipListConfig``/``pip_list``;
- ``dump_config``, ``display_help`` (``ng_help``), ``status``, ``VersionConfig``/``version``;
- ``GlobalConfigDictParserConfig`` and ``GlobalConfigDictParser`` (also in ``nemo_gym.global_config``).

The command functions read their parameters from ``sys.argv`` (``+key=value``) and exit like the scripts do.
"""

import importlib
from typing import Any

_PUBLIC_NAMES = {
    "RunConfig": ("nemo_gym.cli.testing", "RunConfig"),
    "TestConfig": ("nemo_gym.cli.testing", "TestConfig"),
    "RunHelper": ("nemo_gym.runtime.run_helper", "RunHelper"),
    "run": ("nemo_gym.cli.run", None),  # the module itself, which is callable (see cli/run.py)
    "test": ("nemo_gym.cli.testing", "test_main"),
    "TestAllConfig": ("nemo_gym.cli.testing", "TestAllConfig"),
    "test_all": ("nemo_gym.cli.testing", "test_all_main"),
    "dev_test": ("nemo_gym.cli.testing", "dev_test_main"),
    "init_resources_server": ("nemo_gym.cli.testing", "init_resources_server_main"),
    "dump_config": ("nemo_gym.cli.info", "dump_config_main"),
    "display_help": ("nemo_gym.cli.info", "help_main"),
    "status": ("nemo_gym.cli.info", "status_main"),
    "PipListConfig": ("nemo_gym.cli.testing", "PipListConfig"),
    "pip_list": ("nemo_gym.cli.testing", "pip_list_main"),
    "VersionConfig": ("nemo_gym.cli.info", "VersionConfig"),
    "version": ("nemo_gym.cli.info", "version_main"),
    # re-exported by the reference's cli module; trainers import them from here
    "GlobalConfigDictParserConfig": ("nemo_gym.config.parser", "GlobalConfigDictParserConfig"),
    "GlobalConfigDictParser": ("nemo_gym.config.parser", "GlobalConfigDictParser"),
}

__all__ = list(_PUBLIC_NAMES)


def __getattr__(name: str) -> Any:
    target = _PUBLIC_NAMES.get(name)
    if target is None:
        raise AttributeError(f"module 'nemo_gym.cli' has no attribute {name!r}")
    module = importlib.import_module(target[0])
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC_NAMES])
