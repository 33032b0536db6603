"""Items 7 and 8 in ng_collect_rollouts: a dead model endpoint stops the collection after a run of identical
connection failures, with a one-line reason and a resumable output; servers that are not up yet are waited for
(bounded) before the first row is sent."""

import asyncio
import threading
import time

import orjson
import pytest
from fastapi import FastAPI

from nemo_gym.config.ports import find_open_port
from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.http.client import close_global_aiohttp_session
from nemo_gym.rollout_collection import RolloutCollectionConfig, RolloutCollectionHelper
from nemo_gym.rollouts.readiness import ServersNotReadyError
from nemo_gym.runtime.head_server import HeadServerState, build_head_app
from nemo_gym.testing.servers import serve_app
from tests.faults.stack import QuickStack, quick_stack
from tests.integration.rollout_fakes import FakeAgent, read_rows, task_row, write_rows


def stack_config(stack: QuickStack) -> dict:
    """The global config a head server would serve for the quick stack (with the agent's references)."""

    def where(url: str) -> dict:
        host, port = url.removeprefix("http://").split(":")
        return {"host": host, "port": int(port), "entrypoint": "app.py"}

    return {
        "policy_model": {"responses_api_models": {"vllm_model": where(stack.model)}},
        "example_single_tool_call": {"resources_servers": {"example_single_tool_call": where(stack.resources)}},
        "simple_agent": {
            "responses_api_agents": {
                "simple_agent": {
                    **where(stack.agent),
                    "resources_server": {"type": "resources_servers", "name": "example_single_tool_call"},
                    "model_server": {"type": "responses_api_models", "name": "policy_model"},
                }
            }
        },
    }


async def collect(config: dict, input_path, output_path, **params):
    with serve_app(build_head_app(HeadServerState(config=config))) as head_url:
        settings = RolloutCollectionConfig(
            input_jsonl_fpath=str(input_path), output_jsonl_fpath=str(output_path), progress_bar=False, **params
        )
        head = HeadServerConfig(host="127.0.0.1", port=int(head_url.rsplit(":", 1)[1]))
        try:
            return await RolloutCollectionHelper().run_from_config(settings, head)
        finally:
            await close_global_aiohttp_session()


@pytest.fixture()
def files(tmp_path):
    input_path = tmp_path / "input.jsonl"
    write_rows(input_path, [task_row(index, agent_ref={"name": "simple_agent"}) for index in range(40)])
    return input_path, tmp_path / "rollouts.jsonl"


async def test_a_dead_model_endpoint_stops_the_collection_and_resume_finishes_it(files) -> None:
    input_path, output_path = files
    dead = f"http://127.0.0.1:{find_open_port()}/v1"
    started = time.monotonic()
    with quick_stack(upstream_base_url=dead) as stack:
        stopped = await collect(
            stack_config(stack),
            input_path,
            output_path,
            num_samples_in_parallel=4,
            max_consecutive_connection_failures=6,
        )
    assert time.monotonic() - started < 60
    assert stopped.stopped_reason is not None and "\n" not in stopped.stopped_reason
    assert "6 rollouts in a row failed the same way" in stopped.stopped_reason
    assert "+resume=true" in stopped.stopped_reason
    assert 6 <= stopped.num_failed < 40  # dispatching stopped; the in-flight rows finished
    failures = [orjson.loads(line) for line in stopped.failures_path.read_bytes().splitlines()]
    assert all(failure["status"] == 502 and "policy_model" in failure["error"] for failure in failures)

    with quick_stack() as stack:
        resumed = await collect(stack_config(stack), input_path, output_path, resume=True)
    assert resumed.stopped_reason is None and resumed.num_failed == 0
    rows = read_rows(output_path)
    assert sorted(row["_ng_rollout"]["row_index"] for row in rows) == list(range(40))


async def test_failures_of_another_kind_do_not_stop_the_collection(files) -> None:
    input_path, output_path = files
    rows = [task_row(index, agent_ref={"name": "simple_agent"}, expected_cities="not a list") for index in range(12)]
    write_rows(input_path, rows)
    with quick_stack() as stack:
        result = await collect(stack_config(stack), input_path, output_path, max_consecutive_connection_failures=3)
    assert result.stopped_reason is None
    assert result.num_failed == 12  # each row is the caller's mistake (422), none is a connection failure


async def test_collection_waits_for_servers_that_are_still_starting(tmp_path) -> None:
    input_path, output_path = tmp_path / "input.jsonl", tmp_path / "rollouts.jsonl"
    write_rows(input_path, [task_row(index, agent_ref={"name": "late"}) for index in range(5)])
    port = find_open_port()
    config = {"late": {"responses_api_agents": {"fake": {"host": "127.0.0.1", "port": port, "entrypoint": "a.py"}}}}
    app: FastAPI = FakeAgent("late").app()
    app.get("/health")(lambda: {"status": "ok"})
    stop = threading.Event()

    def serve_late() -> None:
        time.sleep(1.5)
        with serve_app(app, port=port):
            stop.wait(60)

    thread = threading.Thread(target=serve_late, daemon=True)
    thread.start()
    try:
        result = await collect(config, input_path, output_path, server_wait_timeout_s=30)
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 15)
    assert result.num_failed == 0 and result.num_collected == 5


async def test_the_wait_for_servers_is_bounded_and_names_them(tmp_path) -> None:
    input_path, output_path = tmp_path / "input.jsonl", tmp_path / "rollouts.jsonl"
    write_rows(input_path, [task_row(0, agent_ref={"name": "never"})])
    port = find_open_port()
    config = {"never": {"responses_api_agents": {"fake": {"host": "127.0.0.1", "port": port, "entrypoint": "a.py"}}}}
    started = time.monotonic()
    with pytest.raises(ServersNotReadyError, match="never"):
        await collect(config, input_path, output_path, server_wait_timeout_s=1)
    assert time.monotonic() - started < 10
    assert not output_path.exists() or output_path.stat().st_size == 0
