"""example_single_tool_call end to end: scripted vLLM, vllm_model, simple_agent and the resources server."""

import httpx
import pytest

from resources_servers.example_single_tool_call.app import SimpleWeatherResourcesServer
from tests.integration.env_stack import env_stack, example_rows, item_types

NAME = "example_single_tool_call"
NO_TOOL = [{"match": {}, "reply": {"content": "Probably sunny."}}]


@pytest.mark.parametrize("require_tool_call", [False, True])
async def test_a_rollout_that_calls_get_weather_earns_one(require_tool_call: bool) -> None:
    row = example_rows(NAME)[0]  # "Should I pack a coat for Oslo today?"
    with env_stack(SimpleWeatherResourcesServer, NAME, {"require_tool_call": require_tool_call}) as stack:
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.post(stack.agent_url + "/run", json=row)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["reward"] == 1.0
    assert item_types(result) == ["function_call", "function_call_output", "message"]
    call, output, answer = result["response"]["output"]
    assert call["name"] == "get_weather" and '"Oslo"' in call["arguments"]
    assert output["output"] == '{"city":"Oslo","weather_description":"The weather in Oslo is cold."}'
    assert "The weather in Oslo is cold." in answer["content"][0]["text"]
    assert result["responses_create_params"]["tools"][0]["name"] == "get_weather"


@pytest.mark.parametrize(("require_tool_call", "reward"), [(False, 1.0), (True, 0.0)])
async def test_a_rollout_without_the_tool_depends_on_the_mode(require_tool_call: bool, reward: float) -> None:
    row = example_rows(NAME)[1]
    with env_stack(SimpleWeatherResourcesServer, NAME, {"require_tool_call": require_tool_call}, NO_TOOL) as stack:
        async with httpx.AsyncClient(timeout=60) as client:
            result = (await client.post(stack.agent_url + "/run", json=row)).json()
    assert item_types(result) == ["message"]
    assert result["reward"] == reward


async def test_all_example_rows_roll_out() -> None:
    with env_stack(SimpleWeatherResourcesServer, NAME, {"require_tool_call": True}) as stack:
        async with httpx.AsyncClient(timeout=60) as client:
            for row in example_rows(NAME):
                result = (await client.post(stack.agent_url + "/run", json=row)).json()
                assert result["reward"] == 1.0, result
