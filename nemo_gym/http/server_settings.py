"""Per-server-process settings of the reference's ``server_utils``: the config classes read from the global config,
and the uvicorn-worker flag (``initialize_ray()`` is :mod:`nemo_gym.bootstrap.ray_connection`'s)."""

from __future__ import annotations

from pydantic import BaseModel

from nemo_gym.bootstrap.environment import WORKER_ENV, mark_fastapi_workers

IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME = WORKER_ENV


def set_is_nemo_gym_fastapi_worker() -> None:
    """Mark this process (and the uvicorn workers it spawns) as a multi-worker FastAPI worker."""
    mark_fastapi_workers()


class ProfilingMiddlewareInputConfig(BaseModel):
    """``profiling_enabled`` / ``profiling_results_dirpath`` top-level keys. NeMo Gym does not profile servers
    with yappi (see docs/compatibility.md); the keys are accepted and ignored."""

    profiling_enabled: bool = False
    profiling_results_dirpath: str | None = None


class ProfilingMiddlewareConfig(ProfilingMiddlewareInputConfig):
    pass


class UvicornLoggingConfig(BaseModel):
    """``uvicorn_logging_show_200_ok``: log successful requests too (off by default, so errors stand out)."""

    uvicorn_logging_show_200_ok: bool = False
