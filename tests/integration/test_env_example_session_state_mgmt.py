"""example_session_state_mgmt end to end: the session cookie carries the counter from seed through tools to verify."""

import asyncio
import re

import httpx

from resources_servers.example_session_state_mgmt.app import StatefulCounterResourcesServer
from tests.integration.env_stack import env_stack, example_rows, item_types

NAME = "example_session_state_mgmt_resources_server"
INCREMENTS = re.compile(r"by (\d+), then increase it by (\d+)")


def script(rows: list[dict], skip_second_increment: bool = False) -> list[dict]:
    """Per row: both increments in one turn (run in order), then read the counter, then report it."""
    rules = [{"match": {"prompt_regex": r'"count":\s*\d+'}, "reply": {"content": "The counter is {tool_output}."}}]
    rules.append({"match": {"has_tool_output": True}, "reply": {"tool_calls": [{"name": "get_counter_value"}]}})
    for row in rows:
        text = row["responses_create_params"]["input"][0]["content"]
        first, second = (int(n) for n in INCREMENTS.search(text).groups())
        calls = [{"name": "increment_counter", "arguments": {"count": first}}]
        if not skip_second_increment:
            calls.append({"name": "increment_counter", "arguments": {"count": second}})
        rules.append({"match": {"last_user_regex": re.escape(text)}, "reply": {"tool_calls": calls}})
    return rules


async def test_every_example_row_earns_one_in_concurrent_rollouts() -> None:
    rows = example_rows("example_session_state_mgmt")
    with env_stack(StatefulCounterResourcesServer, NAME, rules=script(rows)) as stack:
        async with httpx.AsyncClient(timeout=60) as client:
            # 8 repeats of each row at once: their sessions must not see each other's increments.
            responses = await asyncio.gather(*(client.post(stack.agent_url + "/run", json=row) for row in rows * 8))
        assert len(stack.resources.store) == 0  # every session was evicted by its verify
    results = [response.json() for response in responses]
    assert [result["reward"] for result in results] == [1.0] * 40, [r for r in results if r.get("reward") != 1.0][:1]
    first = results[0]
    assert item_types(first) == [
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert f'"count":{rows[0]["expected_count"]}' in first["response"]["output"][5]["output"]


async def test_a_missed_increment_earns_zero() -> None:
    rows = example_rows("example_session_state_mgmt")
    with env_stack(StatefulCounterResourcesServer, NAME, rules=script(rows, skip_second_increment=True)) as stack:
        async with httpx.AsyncClient(timeout=60) as client:
            result = (await client.post(stack.agent_url + "/run", json=rows[1])).json()
    assert result["reward"] == 0.0
