"""vllm_model over HTTP: a real server on a loopback port in front of scripted vLLM upstreams."""

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from nemo_gym.openai_utils import NeMoGymResponse, NeMoGymResponseFunctionToolCallForTraining
from nemo_gym.testing.scripted_behaviour import tokenize
from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from nemo_gym.testing.servers import make_server_client, serve_app
from responses_api_models.vllm_model.app import VLLMModel, VLLMModelConfig

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
TOKEN_FIELDS = ("prompt_token_ids", "generation_token_ids", "generation_log_probs")


@contextlib.contextmanager
def vllm_model(base_url: str | list[str], **overrides: Any) -> Iterator[str]:
    fields = {
        "host": "127.0.0.1",
        "port": 0,
        "entrypoint": "app.py",
        "name": "policy_model",
        "base_url": base_url,
        "api_key": "test-key",
        "model": "served-model",
        "return_token_id_information": False,
        "uses_reasoning_parser": True,
        **overrides,
    }
    server = VLLMModel(config=VLLMModelConfig(**fields), server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield url


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as server:
        yield server


def _chat_bodies(upstream: ScriptedUpstream) -> list[dict]:
    return [r.body for r in upstream.requests if r.path == "/v1/chat/completions"]


def _post(url: str, path: str, body: dict, client: httpx.Client | None = None) -> httpx.Response:
    return (client or httpx).post(url + path, json=body, timeout=30)


def test_sdk_responses_text_reply_with_forced_model_and_only_set_fields_upstream(upstream):
    with vllm_model(upstream.base_url) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        response = client.responses.create(model="client-model", input="hello", temperature=0.3)
    assert response.output_text == "You said: hello"
    assert response.model == "served-model"
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output[0].id.startswith("msg_")
    (sent,) = _chat_bodies(upstream)
    assert sent == {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "temperature": 0.3,
        "model": "served-model",
    }
    assert upstream.requests[-1].headers["Authorization"] == "Bearer test-key"


def test_request_validation(upstream):
    with vllm_model(upstream.base_url) as url:
        assert _post(url, "/v1/responses", {"input": "x", "unknown": 1}).status_code == 422
        assert _post(url, "/v1/responses", {"input": "x", "stream": True}).status_code == 422
        assert _post(url, "/v1/responses", {"input": [{"type": "web_search_call", "id": "w"}]}).status_code == 422
        bad_tool = _post(url, "/v1/responses", {"input": "x", "tools": [{"type": "web_search"}]})
        assert bad_tool.status_code == 400 and "Only function tools" in bad_tool.text
        ok = _post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_k": 3})
        assert ok.status_code == 200
    assert "top_k" not in _chat_bodies(upstream)[-1]


def test_tool_call_then_final_answer_round_trip(upstream):
    with vllm_model(upstream.base_url) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        first = client.responses.create(model="m", input="Weather in San Francisco?", tools=[WEATHER])
        (call,) = first.output
        assert call.type == "function_call" and call.id == call.call_id and call.status == "completed"
        assert json.loads(call.arguments) == {"city": "San Francisco"}
        history = [{"role": "user", "content": "Weather in San Francisco?"}, call.model_dump(exclude_none=True)]
        history.append({"type": "function_call_output", "call_id": call.call_id, "output": "foggy"})
        second = client.responses.create(model="m", input=history, tools=[WEATHER])
    assert second.output_text == "Here is what I found: foggy"
    first_sent, second_sent = _chat_bodies(upstream)
    assert first_sent["tools"] == [
        {"type": "function", "function": {k: WEATHER[k] for k in ("name", "description", "parameters")}}
    ]
    assert second_sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    assert second_sent["messages"][2] == {"role": "tool", "content": "foggy", "tool_call_id": call.call_id}


def test_reasoning_parser_fields_become_reasoning_items_and_are_split_again_on_replay():
    rules = [{"reply": {"reasoning": "First thought", "content": " hello hello"}}]
    with ScriptedUpstream(rules=rules, reasoning_mode="reasoning_content") as upstream:
        with vllm_model(upstream.base_url) as url:
            first = _post(url, "/v1/responses", {"input": "hi"}).json()
            assert [item["type"] for item in first["output"]] == ["reasoning", "message"]
            assert "status" not in first["output"][0]
            assert first["output"][0]["summary"][0]["text"] == "First thought"
            assert first["output"][1]["content"][0]["text"] == " hello hello"
            _post(url, "/v1/responses", {"input": [{"role": "user", "content": "hi"}, *first["output"]]})
            chat = _post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "q"}]}).json()
    replayed = _chat_bodies(upstream)[1]["messages"][1]
    assert replayed["content"] == " hello hello"
    assert replayed["reasoning_content"] == replayed["reasoning"] == "First thought"
    assert chat["choices"][0]["message"]["content"] == "<think>First thought</think> hello hello"
    assert "reasoning_content" not in chat["choices"][0]["message"]


def test_reasoning_field_without_the_parser_flag_is_a_clear_500():
    rules = [{"reply": {"reasoning": "r", "content": "x"}}]
    with ScriptedUpstream(rules=rules, reasoning_mode="reasoning") as upstream:
        with vllm_model(upstream.base_url, uses_reasoning_parser=False) as url:
            response = _post(url, "/v1/responses", {"input": "hi"})
    assert response.status_code == 500
    assert "uses_reasoning_parser" in response.text


def test_think_tags_without_a_parser_are_parsed_into_reasoning(upstream):
    upstream.set_rules([{"reply": {"reasoning": "a", "content": "text"}}])
    with vllm_model(upstream.base_url, uses_reasoning_parser=False) as url:
        output = _post(url, "/v1/responses", {"input": "hi"}).json()["output"]
    assert output[0]["summary"] == [{"text": "a", "type": "summary_text"}]
    assert output[1]["content"][0]["text"] == "text"


def test_length_finish_reason_marks_the_response_incomplete(upstream):
    upstream.set_rules([{"reply": {"content": "one two three four five"}}])
    with vllm_model(upstream.base_url) as url:
        body = _post(url, "/v1/responses", {"input": "q", "max_output_tokens": 3}).json()
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["status"] == "incomplete"
    assert _chat_bodies(upstream)[0]["max_tokens"] == 3


def test_context_overflow_gives_an_empty_200_and_other_400s_are_passed_on(caplog):
    with ScriptedUpstream(max_model_len=30) as upstream:
        with vllm_model(upstream.base_url, return_token_id_information=True) as url:
            long_input = "word " * 100
            response = _post(url, "/v1/responses", {"input": long_input})
            chat = _post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": long_input}]})
            upstream.set_rules([{"fault": {"status": 400, "body": {"error": {"message": "bad temperature"}}}}])
            other = _post(url, "/v1/responses", {"input": "x"})
    assert response.status_code == 200
    (item,) = response.json()["output"]
    assert item["content"][0]["text"] == "" and not set(TOKEN_FIELDS) & set(item)
    assert response.json()["incomplete_details"] == {"reason": "max_output_tokens"}
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] is None
    assert "context window exceeded" in caplog.text
    assert other.status_code == 400  # the upstream refused the request: the caller's to fix
    assert "Hit an exception in VLLMModel___policy_model calling an inner server" in other.json()
    assert "bad temperature" in other.json()


@pytest.mark.parametrize("inline_ids", [True, False])
def test_training_mode_attaches_token_ids_to_the_last_item_and_replays_them(inline_ids):
    template = {"enable_thinking": False}
    with ScriptedUpstream(supports_return_token_ids=inline_ids) as upstream:
        with vllm_model(upstream.base_url, return_token_id_information=True, chat_template_kwargs=template) as url:
            first = _post(url, "/v1/responses", {"input": "Weather in Paris?", "tools": [WEATHER]}).json()
            (call,) = first["output"]
            history = [{"role": "user", "content": "Weather in Paris?"}, call]
            history.append({"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"})
            second = _post(url, "/v1/responses", {"input": history, "tools": [WEATHER]}).json()
            chat = _post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}).json()
    # What an agent or resources server does with the reply: it must validate as a NeMoGymResponse.
    assert isinstance(NeMoGymResponse.model_validate(first).output[-1], NeMoGymResponseFunctionToolCallForTraining)
    NeMoGymResponse.model_validate(second)
    first_sent, second_sent, _ = _chat_bodies(upstream)
    assert first_sent["logprobs"] is True and first_sent["return_tokens_as_token_ids"] is True
    assert first_sent["top_logprobs"] == 0 and first_sent["chat_template_kwargs"] == template
    tokenize_calls = [r.body for r in upstream.requests if r.path == "/tokenize"]
    assert len(tokenize_calls) == (0 if inline_ids else 3)
    if tokenize_calls:
        assert tokenize_calls[0]["chat_template_kwargs"] == template
        assert tokenize_calls[0]["tools"] == first_sent["tools"]

    arguments = json.loads(call["arguments"])
    assert arguments == {"city": "Paris"}
    generated = json.dumps({"name": "get_weather", "arguments": call["arguments"]}, separators=(",", ":"))
    assert call["generation_token_ids"] == tokenize(f"<tool_call>{generated}</tool_call>")
    assert len(call["generation_log_probs"]) == len(call["generation_token_ids"])
    assert call["prompt_token_ids"][-1] == tokenize("<|im_start|>assistant\n<think>\n\n</think>\n\n")[-1]
    final = second["output"][-1]
    assert final["type"] == "message" and set(TOKEN_FIELDS) <= set(final)
    replayed = second_sent["messages"][1]
    assert {k: replayed[k] for k in TOKEN_FIELDS} == {k: call[k] for k in TOKEN_FIELDS}
    message = chat["choices"][0]["message"]
    assert set(TOKEN_FIELDS) <= set(message) and chat["choices"][0]["logprobs"] is None


def test_training_mode_rejects_n_above_one(upstream):
    with vllm_model(upstream.base_url, return_token_id_information=True) as url:
        response = _post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "n": 2})
    assert response.status_code == 400


def test_config_merges_developer_role_instructions_and_metadata_overrides(upstream):
    overrides = {
        "replace_developer_role_with_system": True,
        "chat_template_kwargs": {"enable_thinking": False, "a": 1},
        "extra_body": {"top_k": 20, "temperature": 1.0},
    }
    with vllm_model(upstream.base_url, **overrides) as url:
        _post(
            url,
            "/v1/responses",
            {
                "input": [{"role": "developer", "content": "dev"}, {"role": "user", "content": "u"}],
                "instructions": "Be brief.",
                "temperature": 0.5,
                "metadata": {"chat_template_kwargs": '{"a": 2}', "run": "7"},
            },
        )
    (sent,) = _chat_bodies(upstream)
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user"]
    assert sent["messages"][0]["content"] == "Be brief."
    assert sent["chat_template_kwargs"] == {"enable_thinking": False, "a": 2}
    assert sent["top_k"] == 20 and sent["temperature"] == 0.5
    assert sent["metadata"] == {"run": "7"}


def test_sessions_stick_to_one_backend_and_spread_over_backends():
    with ScriptedUpstream() as first, ScriptedUpstream() as second:
        with vllm_model([first.base_url, second.base_url], return_token_id_information=True) as url:
            for _ in range(8):
                with httpx.Client() as session:
                    counts_before = (len(first.requests), len(second.requests))
                    for _ in range(3):
                        response = _post(url, "/v1/responses", {"input": "hi"}, client=session)
                        assert response.status_code == 200
                    grew = (len(first.requests) - counts_before[0], len(second.requests) - counts_before[1])
                    assert 0 in grew  # every call of the session went to one backend
    assert len(first.requests) and len(second.requests)


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_a_dead_backend_among_several_is_skipped(upstream):
    with vllm_model([_dead_url(), upstream.base_url], max_attempts=1) as url:
        for _ in range(6):
            with httpx.Client() as session:
                assert _post(url, "/v1/responses", {"input": "hi"}, client=session).status_code == 200
    assert len(_chat_bodies(upstream)) == 6


@pytest.mark.parametrize("fault", ["5xx", "429", "reset", "timeout"])
def test_transient_upstream_faults_are_retried(fault):
    with ScriptedUpstream(rules=[{"fault": fault, "times": 2}], hang_seconds=30) as upstream:
        with vllm_model(upstream.base_url, max_attempts=3, request_timeout_s=0.5) as url:
            response = _post(url, "/v1/responses", {"input": "hi"})
    assert response.status_code == 200
    assert response.json()["output"][0]["content"][0]["text"] == "You said: hi"
    assert len(_chat_bodies(upstream)) == 3


def test_persistent_upstream_failure_is_a_502_naming_the_inner_server():
    with ScriptedUpstream(rules=[{"fault": "5xx"}]) as upstream:
        with vllm_model(upstream.base_url, max_attempts=2) as url:
            response = _post(url, "/v1/responses", {"input": "hi"})
    assert response.status_code == 502
    assert "calling an inner server" in response.json() and "Service Unavailable" in response.json()


def test_sdk_chat_completions_pass_through(upstream):
    with vllm_model(upstream.base_url) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(
            model="ignored", messages=[{"role": "user", "content": "hey"}], max_tokens=50
        )
    assert completion.choices[0].message.content == "You said: hey"
    assert completion.usage.completion_tokens > 0
    assert _chat_bodies(upstream)[0]["model"] == "served-model"


def test_model_name_override_from_the_deployment_guide_names_the_served_model() -> None:
    from responses_api_models.vllm_model.app import VLLMModelConfig

    config = VLLMModelConfig.model_validate(
        {
            "host": "h",
            "port": 1,
            "entrypoint": "app.py",
            "name": "policy_model",
            "base_url": "http://x/v1",
            "api_key": "k",
            "model": "from-yaml",
            "model_name": "from-cli",
            "return_token_id_information": False,
            "uses_reasoning_parser": False,
        }
    )
    assert config.model == "from-cli"


def test_without_a_model_name_the_served_model_is_asked_once(upstream):
    with vllm_model(upstream.base_url, model=None) as url:
        first = _post(url, "/v1/responses", {"input": "hello"}).json()
        second = _post(url, "/v1/responses", {"input": "again"}).json()
    listed = httpx.get(upstream.base_url + "/models").json()["data"][0]["id"]
    assert first["model"] == second["model"] == listed
    assert [body["model"] for body in _chat_bodies(upstream)] == [listed, listed]
    assert sum(1 for r in upstream.requests if r.path == "/v1/models") == 2  # ours once, plus the check above


def test_a_base_url_without_a_path_means_its_v1_routes(upstream):
    bare = upstream.base_url.removesuffix("/v1")
    with vllm_model(bare) as url:
        reply = _post(url, "/v1/responses", {"input": "hello"})
    assert reply.status_code == 200 and reply.json()["output"][0]["content"][0]["text"] == "You said: hello"
