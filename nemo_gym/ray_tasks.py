"""Awaiting a Ray task from a server's event loop (re-exported by :mod:`nemo_gym.server_utils`)."""

import asyncio
from typing import Any


async def await_ray_task(ref: Any, deadline_s: float) -> Any:
    """The result of the Ray task behind ``ref``, awaited without blocking the event loop.

    Past ``deadline_s`` seconds the task is cancelled (its worker process killed, so a runaway task does not hold a
    CPU) and ``TimeoutError`` is raised; a task that failed raises its ``ray.exceptions.RayError``.
    """
    import ray

    try:
        return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout=deadline_s)
    except TimeoutError:
        ray.cancel(ref, force=True)
        raise
