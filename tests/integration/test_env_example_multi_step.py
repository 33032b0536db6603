"""example_multi_step end to end: the scripted model looks up every needle, then submits; the reward follows order."""

import re

import httpx

from resources_servers.example_multi_step.app import ExampleMultiStepResourcesServer
from tests.integration.env_stack import env_stack, example_rows, item_types

NAME = "example_multi_step"


def script(row: dict, submitted: list[int]) -> list[dict]:
    """Look up each expected synonym (one turn), then submit ``submitted``, then answer."""
    question = re.escape(row["responses_create_params"]["input"][1]["content"])
    lookups = [{"name": "get_synonym_value", "arguments": {"synonym": s}} for s in row["expected_synonyms"]]
    return [
        {"match": {"last_user_regex": question, "prompt_regex": r'"success":\s*true'}, "reply": {"content": "Done."}},
        {
            "match": {"last_user_regex": question, "has_tool_output": True},
            "reply": {"tool_calls": [{"name": "extract_synonym_values", "arguments": {"synonym_values": submitted}}]},
        },
        {"match": {"last_user_regex": question}, "reply": {"tool_calls": lookups}},
    ]


async def run(row: dict, submitted: list[int]) -> dict:
    with env_stack(ExampleMultiStepResourcesServer, NAME, rules=script(row, submitted)) as stack:
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.post(stack.agent_url + "/run", json=row)
    assert response.status_code == 200, response.text
    return response.json()


async def test_submitting_the_looked_up_values_in_list_order_earns_one() -> None:
    row = example_rows(NAME)[0]
    result = await run(row, row["expected_synonym_values"])
    assert result["reward"] == 1.0 and result["accuracy"] is True
    # The tool outputs the model saw are the values it then submitted.
    outputs = [item["output"] for item in result["response"]["output"] if item["type"] == "function_call_output"]
    assert outputs[:5] == [f'{{"synonym_value":{value}}}' for value in row["expected_synonym_values"]]
    assert item_types(result) == ["function_call"] * 5 + ["function_call_output"] * 5 + [
        "function_call",
        "function_call_output",
        "message",
    ]


async def test_the_right_values_in_the_wrong_order_earn_zero() -> None:
    row = example_rows(NAME)[2]
    result = await run(row, list(reversed(row["expected_synonym_values"])))
    assert result["reward"] == 0.0
    assert result["set_overlap"] == 1.0 and result["order_instruction_following_failure"] is True


async def test_submitting_the_minefield_value_is_flagged() -> None:
    row = example_rows(NAME)[4]
    result = await run(row, [row["minefield_label_value"]])
    assert result["reward"] == 0.0 and result["original_term_minefield_hit"] is True
