"""Judge prompt construction and verdict parsing."""

from typing import Any

import pytest

from resources_servers.math_with_judge.judge import (
    EQUAL_LABEL,
    NOT_EQUAL_LABEL,
    build_judge_request,
    judged_equal,
)


def judge_reply(text: str, part_type: str = "output_text", item_type: str = "message") -> dict[str, Any]:
    return {"output": [{"type": item_type, "role": "assistant", "content": [{"type": part_type, "text": text}]}]}


@pytest.mark.parametrize(
    ("text", "equal"),
    [
        (f"Both are 7/5.\n{EQUAL_LABEL}", True),
        (f"They differ.\n{NOT_EQUAL_LABEL}", False),
        (f"{EQUAL_LABEL} ... on reflection no, {NOT_EQUAL_LABEL}", True),
        (f"{NOT_EQUAL_LABEL} ... on reflection yes, {EQUAL_LABEL}", False),
        ("I cannot decide.", False),
        ("[[A = B]]", False),
    ],
)
def test_verdict_is_decided_by_the_first_label(text: str, equal: bool) -> None:
    assert judged_equal(judge_reply(text)) is equal


def test_malformed_judge_outputs_count_as_not_equal() -> None:
    assert not judged_equal({"output": []})
    assert not judged_equal({})
    assert not judged_equal(judge_reply(EQUAL_LABEL, part_type="refusal"))
    assert not judged_equal(judge_reply(EQUAL_LABEL, item_type="reasoning"))
    with_trailing_call = judge_reply(EQUAL_LABEL)
    with_trailing_call["output"].append({"type": "function_call", "name": "x", "arguments": "{}", "call_id": "c"})
    assert not judged_equal(with_trailing_call)


def test_judge_request_keeps_the_base_params_and_replaces_the_input() -> None:
    base = {"input": [{"role": "user", "content": "ignored"}], "temperature": 0.0, "max_output_tokens": 512}
    params = build_judge_request(base, "What is 7/5?", "1.4", "Final answer: {7 / 5}")
    assert params["temperature"] == 0.0 and params["max_output_tokens"] == 512
    assert [message["role"] for message in params["input"]] == ["system", "user"]
    assert EQUAL_LABEL in params["input"][0]["content"] and NOT_EQUAL_LABEL in params["input"][0]["content"]
    user = params["input"][1]["content"]
    assert user.index("What is 7/5?") < user.index("1.4") < user.index("Final answer: {7 / 5}")
    assert base["input"] == [{"role": "user", "content": "ignored"}]  # the configured params are not mutated
