"""ng_collect_rollouts' engine against real fake-agent servers: limits, repeats, overrides, routing, failures."""

import asyncio

import orjson
import pytest

from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.errors import NeMoGymError
from nemo_gym.global_config import set_global_config_dict
from nemo_gym.http.client import close_global_aiohttp_session, configure_http_client
from nemo_gym.rollout_collection import RolloutCollectionConfig, RolloutCollectionHelper, run_examples
from nemo_gym.rollouts.input_rows import InputRowsError
from tests.integration.rollout_fakes import FakeAgent, fake_deployment, read_rows, task_row, write_rows

FAST_RETRIES = {"http_client": {"max_attempts": 2, "backoff_initial_s": 0.01, "backoff_max_s": 0.02}}


@pytest.fixture(autouse=True)
def _fast_retries():
    set_global_config_dict(FAST_RETRIES)
    yield
    configure_http_client({})


@pytest.fixture()
def files(tmp_path):
    return tmp_path / "input.jsonl", tmp_path / "out" / "rollouts.jsonl"


async def collect(head_port: int, input_path, output_path, **params):
    config = RolloutCollectionConfig(
        input_jsonl_fpath=str(input_path), output_jsonl_fpath=str(output_path), progress_bar=False, **params
    )
    try:
        return await RolloutCollectionHelper().run_from_config(
            config, HeadServerConfig(host="127.0.0.1", port=head_port)
        )
    finally:
        await close_global_aiohttp_session()


def pairs(rows: list[dict]) -> list[tuple[int, int]]:
    return sorted((row["_ng_rollout"]["row_index"], row["_ng_rollout"]["repeat"]) for row in rows)


async def test_every_row_and_repeat_is_one_line_with_its_index_and_repeat(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i, agent_ref={"name": "alpha"}) for i in range(6)])
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        result = await collect(head_port, input_path, output_path, num_repeats=3)
    rows = read_rows(output_path)
    assert pairs(rows) == [(i, r) for i in range(6) for r in range(3)]
    assert all(row["id"] == row["_ng_rollout"]["row_index"] for row in rows)
    assert all(row["_ng_rollout"]["agent"] == "alpha" for row in rows)
    assert result.num_collected == 18 and result.num_failed == 0
    assert not result.failures_path.exists()
    assert orjson.loads(result.metrics_path.read_bytes())["num_rollouts"] == 18


async def test_repeats_are_sent_consecutively_aabbcc(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i) for i in range(3)])
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        await collect(head_port, input_path, output_path, agent_name="alpha", num_repeats=2, num_samples_in_parallel=1)
    assert [body["id"] for body in agent.bodies] == [0, 0, 1, 1, 2, 2]


async def test_limit_takes_the_first_rows_and_skips_blank_lines(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i) for i in range(10)])
    input_path.write_bytes(b"\n" + input_path.read_bytes().replace(b"\n", b"\n\n", 2))
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        result = await collect(head_port, input_path, output_path, agent_name="alpha", limit=4)
    assert sorted(row["id"] for row in read_rows(output_path)) == [0, 1, 2, 3]
    assert result.num_rows == 4


async def test_overrides_are_merged_over_each_rows_create_params(files) -> None:
    input_path, output_path = files
    rows = [task_row(0), task_row(1)]
    rows[0]["responses_create_params"]["temperature"] = 1.0
    rows[1]["responses_create_params"]["max_output_tokens"] = 64
    write_rows(input_path, rows)
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        await collect(
            head_port,
            input_path,
            output_path,
            agent_name="alpha",
            responses_create_params={"temperature": 0.25, "top_p": 0.5},
        )
    sent = {body["id"]: body["responses_create_params"] for body in agent.bodies}
    assert sent[0] == {"input": rows[0]["responses_create_params"]["input"], "temperature": 0.25, "top_p": 0.5}
    assert sent[1]["max_output_tokens"] == 64 and sent[1]["temperature"] == 0.25


async def test_rows_go_to_their_agent_ref_unless_agent_name_is_given(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i, agent_ref={"name": "alpha" if i % 2 else "beta"}) for i in range(6)])
    alpha, beta = FakeAgent("alpha"), FakeAgent("beta")
    with fake_deployment(alpha, beta) as head_port:
        result = await collect(head_port, input_path, output_path)
        served = {row["id"]: row["served_by"] for row in read_rows(output_path)}
        assert served == {i: "alpha" if i % 2 else "beta" for i in range(6)}
        assert result.metrics["rollouts_by_agent"] == {"alpha": 3, "beta": 3}

        forced = output_path.with_name("forced.jsonl")
        await collect(head_port, input_path, forced, agent_name="beta")
        assert {row["served_by"] for row in read_rows(forced)} == {"beta"}


async def test_bad_lines_are_reported_with_line_numbers_before_any_request(files) -> None:
    input_path, output_path = files
    lines = [
        orjson.dumps(task_row(0, agent_ref={"name": "alpha"})),
        b"{not json",
        orjson.dumps({"id": 2, "agent_ref": {"name": "alpha"}}),
        orjson.dumps(task_row(3, agent_ref={"name": "ghost"})),
        orjson.dumps(task_row(4)),
        b"[1, 2]",
    ]
    input_path.write_bytes(b"\n".join(lines) + b"\n")
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        with pytest.raises(InputRowsError) as raised:
            await collect(head_port, input_path, output_path)
    message = str(raised.value)
    assert "5 invalid line(s)" in message
    assert "line 2: invalid JSON" in message
    assert "line 3: missing 'responses_create_params'" in message
    assert "line 4: unknown agent 'ghost'" in message and "alpha" in message
    assert "line 5: no agent" in message
    assert "line 6: expected a JSON object" in message
    assert agent.bodies == []
    assert not output_path.exists()


async def test_failing_rows_go_to_the_failures_file_and_the_run_goes_on(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i, fail=(i in (1, 4))) for i in range(6)])
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        result = await collect(head_port, input_path, output_path, agent_name="alpha")
    assert sorted(row["id"] for row in read_rows(output_path)) == [0, 2, 3, 5]
    failures = read_rows(result.failures_path)
    assert sorted(entry["row_index"] for entry in failures) == [1, 4]
    assert all(entry["status"] == 500 and "agent broke on row" in entry["error"] for entry in failures)
    assert {entry["line_number"] for entry in failures} == {2, 5}
    assert agent.calls[1] == 2  # the retry policy's two attempts
    assert result.num_failed == 2 and result.metrics["num_failed"] == 2


async def test_resume_retries_failures_and_skips_finished_pairs(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i, fail_times=2 if i == 2 else 0) for i in range(5)])
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        first = await collect(
            head_port, input_path, output_path, agent_name="alpha", num_repeats=2, num_samples_in_parallel=1
        )
        assert first.num_failed == 1  # repeat 0 of row 2 used up both attempts; repeat 1 succeeded
        second = await collect(head_port, input_path, output_path, agent_name="alpha", num_repeats=2, resume=True)
    assert second.num_skipped == 9 and second.num_collected == 1 and second.num_failed == 0
    assert pairs(read_rows(output_path)) == [(i, r) for i in range(5) for r in range(2)]
    assert not second.failures_path.exists()
    assert second.metrics["num_rollouts"] == 10


async def test_an_existing_output_is_never_appended_to_without_resume(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i) for i in range(2)])
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        await collect(head_port, input_path, output_path, agent_name="alpha")
        with pytest.raises(NeMoGymError, match="resume=true"):
            await collect(head_port, input_path, output_path, agent_name="alpha")
        await collect(head_port, input_path, output_path, agent_name="alpha", overwrite=True)
    assert len(read_rows(output_path)) == 2


async def test_num_samples_in_parallel_bounds_the_requests_in_flight(files) -> None:
    input_path, output_path = files
    write_rows(input_path, [task_row(i, max_delay_s=0.02) for i in range(40)])
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        await collect(head_port, input_path, output_path, agent_name="alpha", num_samples_in_parallel=3)
    assert 1 < agent.max_in_flight <= 3
    assert len(read_rows(output_path)) == 40


async def test_metrics_file_holds_mean_reward_averages_and_pass_at_k(files) -> None:
    input_path, output_path = files
    # row 0 passes on every repeat, row 1 on one of four, row 2 never; row 0 alone carries a "bonus" key
    rows = [task_row(0, rewards=[1.0]), task_row(1, rewards=[0.0, 1.0, 0.0, 0.0]), task_row(2, rewards=[0.0])]
    write_rows(input_path, rows)
    agent = FakeAgent("alpha")
    with fake_deployment(agent) as head_port:
        result = await collect(head_port, input_path, output_path, agent_name="alpha", num_repeats=4)
    metrics = orjson.loads(result.metrics_path.read_bytes())
    assert metrics["num_rollouts"] == 12
    assert metrics["mean_reward"] == pytest.approx(5 / 12)
    assert metrics["mean_reward_by_agent"] == {"alpha": pytest.approx(5 / 12)}
    assert metrics["averages"]["id"] == pytest.approx(1.0)
    assert metrics["pass@1"] == pytest.approx((1 + 0.25 + 0) / 3)
    assert metrics["pass@4"] == pytest.approx(2 / 3)


async def test_run_examples_yields_each_row_with_its_result() -> None:
    agent = FakeAgent("alpha")
    rows = [task_row(i, agent_ref={"type": "responses_api_agents", "name": "alpha"}) for i in range(4)]
    with fake_deployment(agent) as head_port:
        try:
            results = [await task for task in run_examples(rows, HeadServerConfig(host="127.0.0.1", port=head_port))]
        finally:
            await close_global_aiohttp_session()
    assert sorted(row["id"] for row, _ in results) == [0, 1, 2, 3]
    assert all(result["served_by"] == "alpha" and result["id"] == row["id"] for row, result in results)


async def test_a_missing_head_server_is_a_clear_error(files) -> None:
    from nemo_gym.config.ports import find_open_port

    input_path, output_path = files
    write_rows(input_path, [task_row(0)])
    with pytest.raises(ValueError, match="Could not connect to the head server"):
        await collect(find_open_port(), input_path, output_path, agent_name="alpha")
    await asyncio.sleep(0)
