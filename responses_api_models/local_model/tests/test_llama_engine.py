"""The engine's queue, with plain Python jobs in place of generations (no model needed)."""

import asyncio
import threading

import pytest

from nemo_gym.errors import ConfigError
from responses_api_models.local_model.llama_engine import (
    EngineSettings,
    LlamaEngine,
    QueueFullError,
    resolve_model_path,
)

SETTINGS = EngineSettings(
    model_path=None, chat_format="chatml", n_ctx=64, n_threads=1, seed=None, use_extra_buffer_types=False
)


async def _wait_for(predicate, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def _blocking_job(started: threading.Event, release: threading.Event, result: str, log: list):
    def job() -> str:
        started.set()
        assert release.wait(5)
        log.append((result, threading.get_ident()))
        return result

    return job


async def test_jobs_run_one_at_a_time_in_arrival_order_on_one_thread_off_the_loop():
    engine = LlamaEngine(SETTINGS, max_queued_requests=10)
    release, log = threading.Event(), []
    starts = [threading.Event() for _ in range(3)]
    tasks = [asyncio.create_task(engine.run(_blocking_job(starts[i], release, f"r{i}", log))) for i in range(3)]
    await _wait_for(starts[0].is_set)
    # The first job blocks its thread, yet the loop runs and the others wait in the queue.
    await _wait_for(lambda: engine.status()["queued"] == 2)
    assert engine.status()["running"] == 1 and not starts[1].is_set()
    release.set()
    assert await asyncio.gather(*tasks) == ["r0", "r1", "r2"]
    assert [name for name, _ in log] == ["r0", "r1", "r2"]
    assert len({thread for _, thread in log}) == 1 and log[0][1] != threading.get_ident()
    assert engine.status() | {"model_file": None} == {
        "model_file": None,
        "loaded": False,
        "running": 0,
        "queued": 0,
        "max_queued_requests": 10,
        "completed": 3,
        "failed": 0,
    }
    engine.close()


async def test_a_full_queue_refuses_at_once():
    engine = LlamaEngine(SETTINGS, max_queued_requests=1)
    release, log = threading.Event(), []
    started = threading.Event()
    running = asyncio.create_task(engine.run(_blocking_job(started, release, "a", log)))
    await _wait_for(started.is_set)
    waiting = asyncio.create_task(engine.run(lambda: "b"))
    await _wait_for(lambda: engine.status()["queued"] == 1)
    with pytest.raises(QueueFullError, match="max_queued_requests=1"):
        await engine.run(lambda: "c")
    release.set()
    assert await running == "a" and await waiting == "b"
    engine.close()


async def test_a_cancelled_waiter_never_runs_and_a_cancelled_runner_keeps_the_engine_busy():
    engine = LlamaEngine(SETTINGS, max_queued_requests=10)
    release, log = threading.Event(), []
    started = threading.Event()
    running = asyncio.create_task(engine.run(_blocking_job(started, release, "a", log)))
    await _wait_for(started.is_set)
    ran = []
    waiter = asyncio.create_task(engine.run(lambda: ran.append("never")))
    await _wait_for(lambda: engine.status()["queued"] == 1)
    waiter.cancel()
    running.cancel()
    await asyncio.gather(waiter, running, return_exceptions=True)
    assert engine.status()["queued"] == 0 and engine.status()["running"] == 1
    follower = asyncio.create_task(engine.run(lambda: "next"))
    await asyncio.sleep(0.05)
    assert not follower.done()  # the cancelled generation still holds the model
    release.set()
    assert await follower == "next"
    assert ran == [] and [name for name, _ in log] == ["a"]
    engine.close()


async def test_a_failing_job_is_counted_and_releases_the_engine():
    engine = LlamaEngine(SETTINGS, max_queued_requests=10)

    def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await engine.run(boom)
    assert await engine.run(lambda: 1) == 1
    assert engine.status()["failed"] == 1 and engine.status()["completed"] == 1
    engine.close()


def test_model_path_must_name_a_file(tmp_path):
    with pytest.raises(ConfigError, match="is not a file"):
        with resolve_model_path(str(tmp_path / "missing.gguf")):
            pass
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    with resolve_model_path(str(model)) as path:
        assert path == model.resolve()
