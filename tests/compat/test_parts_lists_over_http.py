"""Messages whose ``content`` is a list of parts (the OpenAI SDK's normal form) are served by a real vllm_model
on a loopback port, on both endpoints, instead of failing with a 500 when the validated body is dumped."""

import contextlib
from collections.abc import Iterator

import httpx
import openai
import pytest

from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from nemo_gym.testing.servers import make_server_client, serve_app
from responses_api_models.vllm_model.app import VLLMModel, VLLMModelConfig

TEXT = [{"type": "text", "text": "hello"}]


@contextlib.contextmanager
def vllm_model(base_url: str) -> Iterator[str]:
    config = VLLMModelConfig(
        host="127.0.0.1",
        port=0,
        entrypoint="app.py",
        name="policy_model",
        base_url=base_url,
        api_key="test-key",
        model="served-model",
        return_token_id_information=False,
        uses_reasoning_parser=True,
    )
    server = VLLMModel(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield url


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as server:
        yield server


def test_chat_completions_accepts_parts_lists_for_every_role(upstream):
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "developer", "content": [{"type": "text", "text": "really"}]},
        {"role": "user", "content": TEXT},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "calling"}],
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "done"}]},
        {"role": "user", "content": TEXT},
    ]
    with vllm_model(upstream.base_url) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=messages)
    assert reply.choices[0].message.content
    sent = [r.body for r in upstream.requests if r.path == "/v1/chat/completions"][-1]
    assert sent["messages"] == messages  # forwarded as sent: lists of parts, not consumed iterators


def test_responses_accepts_parts_lists_in_messages_and_tool_outputs(upstream):
    body = {
        "input": [
            {"role": "system", "content": [{"type": "input_text", "text": "be brief"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "hello"}], "type": "message"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "done"}]},
        ],
        "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}]},
    }
    with vllm_model(upstream.base_url) as url:
        response = httpx.post(url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["output"][0]["content"][0]["text"] == "Here is what I found: done"
    # The SDK type of tool_choice declares a lazy Iterable for `tools`; it is echoed back as the list sent.
    assert answer["tool_choice"]["tools"] == [{"type": "function", "name": "f"}]
    sent = [r.body for r in upstream.requests if r.path == "/v1/chat/completions"][-1]
    assert sent["messages"][-1] == {
        "role": "tool",
        "content": [{"type": "text", "text": "done"}],
        "tool_call_id": "c1",
    }


def test_responses_with_parts_lists_and_no_tool_choice_is_answered(upstream):
    body = {
        "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        ]
    }
    with vllm_model(upstream.base_url) as url:
        response = httpx.post(url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    sent = [r.body for r in upstream.requests if r.path == "/v1/chat/completions"][-1]
    assert sent["messages"] == [
        {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "user", "content": [{"type": "text", "text": "hello"}]},
    ]
