"""Item 1 (fixed in the model servers' translation): content given as a list of parts, the OpenAI SDK's normal
form, is served in every place the Chat Completions and Responses formats allow it."""

import httpx
import pytest

from tests.faults.stack import quick_stack, still_serves

TEXT_PARTS = [{"type": "text", "text": "hi"}]
CHAT_BODIES = [
    {"messages": [{"role": "user", "content": TEXT_PARTS}]},
    {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": "hi"},
        ]
    },
    {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": "hi"},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "cold"}]},
        ]
    },
]
RESPONSES_BODIES = [
    {"input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
    {
        "input": [
            {"role": "system", "content": [{"type": "input_text", "text": "Be brief."}]},
            {"role": "user", "content": "hi"},
        ]
    },
]


@pytest.fixture(scope="module")
def stack():
    with quick_stack() as served:
        yield served


@pytest.mark.parametrize("body", CHAT_BODIES)
def test_chat_completions_accept_content_parts(stack, body) -> None:
    response = httpx.post(f"{stack.model}/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert still_serves(stack.model)


@pytest.mark.parametrize("body", RESPONSES_BODIES)
def test_responses_accept_content_parts(stack, body) -> None:
    for url in (stack.model, stack.agent):
        response = httpx.post(f"{url}/v1/responses", json=body, timeout=60)
        assert response.status_code == 200, response.text[:500]
        assert still_serves(url)
