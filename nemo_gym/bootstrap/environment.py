"""The environment variables ng_run (or a trainer, or a test) hands a server process, and nothing else.

A child server is started with:

- ``NEMO_GYM_CONFIG_DICT``: the whole resolved config, as YAML;
- ``NEMO_GYM_CONFIG_PATH``: the name of the instance this process serves;
- ``NEMO_GYM_SESSION_SECRET``: the run's cookie-signing secret (shared by every server and uvicorn worker);
- the Ray token of a cluster ng_run started (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN_PATH``; see
  :class:`nemo_gym.bootstrap.ray_connection.PrivateRayFolder`);
- ``PYTHONPATH`` with the server folder and the repository first.

``IS_NEMO_GYM_FASTAPI_WORKER`` and ``NEMO_GYM_WORKER_SERVER`` are set by a server for its own uvicorn workers and
never inherited by a child.
"""

import os
import secrets
from collections.abc import Iterable, Mapping

CONFIG_DICT_ENV = "NEMO_GYM_CONFIG_DICT"
CONFIG_PATH_ENV = "NEMO_GYM_CONFIG_PATH"
SESSION_SECRET_ENV = "NEMO_GYM_SESSION_SECRET"
WORKER_ENV = "IS_NEMO_GYM_FASTAPI_WORKER"
WORKER_SERVER_ENV = "NEMO_GYM_WORKER_SERVER"
RAY_AUTH_ENV_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def server_child_env(
    base: Mapping[str, str],
    *,
    config_yaml: str,
    instance_name: str,
    python_path: Iterable[str],
    session_secret: str | None = None,
) -> dict[str, str]:
    """``base`` plus what a server process needs to serve ``instance_name``; ``python_path`` goes before
    ``base``'s own ``PYTHONPATH``. The worker flags of the parent are dropped: the child decides its own."""
    env = {key: value for key, value in base.items() if key not in (WORKER_ENV, WORKER_SERVER_ENV)}
    paths = [*python_path, *filter(None, [base.get("PYTHONPATH")])]
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONUNBUFFERED": "1",
            CONFIG_DICT_ENV: config_yaml,
            CONFIG_PATH_ENV: instance_name,
        }
    )
    if session_secret is not None:
        env[SESSION_SECRET_ENV] = session_secret
    return env


def own_instance_name() -> str | None:
    """The instance this process serves (``NEMO_GYM_CONFIG_PATH``), or None outside a server process."""
    return os.environ.get(CONFIG_PATH_ENV) or None


def is_fastapi_worker() -> bool:
    """True in a uvicorn worker of a server run with ``num_workers > 1``."""
    return os.environ.get(WORKER_ENV) == "1"


def mark_fastapi_workers(server_spec: str | None = None) -> None:
    """Mark this process and the uvicorn workers it spawns as workers; ``server_spec`` (``<file>::<class>``)
    names the server class each worker builds."""
    os.environ[WORKER_ENV] = "1"
    if server_spec is not None:
        os.environ[WORKER_SERVER_ENV] = server_spec


def worker_server_spec() -> str:
    return os.environ[WORKER_SERVER_ENV]


def session_secret() -> str:
    """The per-run signing secret handed down by ng_run; a standalone server makes its own (shared by workers)."""
    secret = os.environ.get(SESSION_SECRET_ENV)
    if not secret:
        secret = secrets.token_urlsafe(32)
        os.environ[SESSION_SECRET_ENV] = secret
    return secret
