"""Per-server-process settings of the reference's ``server_utils``: the config classes read from the global config,
the uvicorn-worker flag, and ``initialize_ray()`` without arguments."""

from __future__ import annotations

import os

from pydantic import BaseModel

from nemo_gym.http.server_base import WORKER_ENV

IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME = WORKER_ENV


def set_is_nemo_gym_fastapi_worker() -> None:
    """Mark this process (and the uvicorn workers it spawns) as a multi-worker FastAPI worker."""
    os.environ[IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME] = "1"


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


def initialize_ray() -> None:
    """Connect this process to the run's Ray cluster (``ray_head_node_address``, else ``RAY_ADDRESS``); with
    neither, start a local cluster and record its address under ``ray_head_node_address`` in the global config."""
    import ray

    from nemo_gym.global_config import RAY_HEAD_NODE_ADDRESS_KEY_NAME, get_global_config_dict
    from nemo_gym.runtime import ray_setup

    if ray.is_initialized():
        return
    config = get_global_config_dict()
    address = ray_setup.ray_address_from(config)
    if address:
        ray_setup.initialize_ray({RAY_HEAD_NODE_ADDRESS_KEY_NAME: address})
        return
    ray_setup.ensure_ray_initialized()
    config[RAY_HEAD_NODE_ADDRESS_KEY_NAME] = ray.get_runtime_context().gcs_address
