import asyncio
import json
import socket
import subprocess
import sys
import time

import aiohttp
import openai
import pytest

from nemo_gym.testing.scripted_behaviour import tokenize
from nemo_gym.testing.scripted_upstream import ScriptedUpstream

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


async def _post(url, body, timeout=10):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(url, json=body) as response:
            return response.status, await response.json(content_type=None)


def _chat(upstream, body):
    return asyncio.run(_post(upstream.base_url + "/chat/completions", body))


@pytest.fixture
def upstream():
    with ScriptedUpstream() as server:
        yield server


def test_default_behaviour_calls_the_first_tool_with_the_city_then_answers_with_its_output(upstream):
    messages = [{"role": "user", "content": "What's the weather in San Francisco?"}]
    status, first = _chat(upstream, {"model": "m", "messages": messages, "tools": [WEATHER_TOOL]})
    assert status == 200
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "San Francisco"}

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"},
    ]
    status, second = _chat(upstream, {"model": "m", "messages": messages, "tools": [WEATHER_TOOL]})
    assert second["choices"][0]["finish_reason"] == "stop"
    assert "sunny, 21C" in second["choices"][0]["message"]["content"]
    assert second["choices"][0]["message"]["tool_calls"] == []


def test_openai_sdk_can_use_chat_completions_and_responses(upstream):
    client = openai.OpenAI(base_url=upstream.base_url, api_key="dummy", max_retries=0)
    completion = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
    assert completion.choices[0].message.content == "You said: hello"
    response = client.responses.create(
        model="m",
        input="weather in Paris",
        tools=[{"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL["function"]["parameters"]}],
    )
    assert response.output[0].type == "function_call"
    assert json.loads(response.output[0].arguments) == {"city": "Paris"}
    assert client.models.list().data[0].id == "scripted-model"


def test_rules_match_in_order_and_substitute_placeholders():
    rules = [
        {"match": {"last_user_regex": "^math", "has_tool_output": False}, "reply": {"content": "\\boxed{4}"}},
        {"match": {"tools_include": ["get_weather"]}, "reply": {"content": "no tool: {last_user}"}},
    ]
    with ScriptedUpstream(rules=rules) as upstream:
        _, math = _chat(upstream, {"messages": [{"role": "user", "content": "math: 2+2"}]})
        _, other = _chat(upstream, {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL]})
    assert math["choices"][0]["message"]["content"] == "\\boxed{4}"
    assert other["choices"][0]["message"]["content"] == "no tool: hi"


def test_times_scripts_two_server_errors_then_success():
    with ScriptedUpstream(rules=[{"fault": "5xx", "times": 2}]) as upstream:
        statuses = [_chat(upstream, {"messages": [{"role": "user", "content": "x"}]})[0] for _ in range(3)]
    assert statuses == [503, 503, 200]


@pytest.mark.parametrize(
    ("mode", "field"), [("think_tags", None), ("reasoning_content", "reasoning_content"), ("reasoning", "reasoning")]
)
def test_reasoning_is_inline_or_in_the_parser_field(mode, field):
    rules = [{"reply": {"reasoning": " step 1\n", "content": "answer"}}]
    with ScriptedUpstream(rules=rules, reasoning_mode=mode) as upstream:
        _, body = _chat(upstream, {"messages": [{"role": "user", "content": "q"}]})
    message = body["choices"][0]["message"]
    if field is None:
        assert message["content"] == "<think> step 1\n</think>answer"
    else:
        assert message["content"] == "answer"
        assert message[field] == " step 1\n"


def test_training_fields_token_ids_logprobs_and_tokenize_agree(upstream):
    messages = [{"role": "user", "content": "hello there"}]
    kwargs = {"enable_thinking": False}
    _, body = _chat(
        upstream,
        {
            "messages": messages,
            "logprobs": True,
            "top_logprobs": 0,
            "return_tokens_as_token_ids": True,
            "return_token_ids": True,
            "chat_template_kwargs": kwargs,
        },
    )
    choice = body["choices"][0]
    entries = choice["logprobs"]["content"]
    assert all(entry["token"].startswith("token_id:") for entry in entries)
    assert [int(entry["token"].removeprefix("token_id:")) for entry in entries] == choice["token_ids"]
    assert choice["token_ids"] == tokenize("You said: hello there")
    assert body["usage"]["completion_tokens"] == len(choice["token_ids"])

    root = upstream.url
    _, same = asyncio.run(
        _post(root + "/tokenize", {"model": "m", "messages": messages, "chat_template_kwargs": kwargs})
    )
    _, other = asyncio.run(_post(root + "/tokenize", {"model": "m", "messages": messages}))
    assert same["tokens"] == body["prompt_token_ids"]
    assert other["tokens"] != body["prompt_token_ids"]
    assert same["count"] == len(same["tokens"])


def test_logprobs_without_token_id_rendering_use_text_tokens(upstream):
    _, body = _chat(upstream, {"messages": [{"role": "user", "content": "a b"}], "logprobs": True})
    assert "".join(e["token"] for e in body["choices"][0]["logprobs"]["content"]) == "You said: a b"


def test_max_tokens_cuts_the_reply_with_finish_reason_length():
    with ScriptedUpstream(rules=[{"reply": {"reasoning": "long thought here", "content": "x"}}]) as upstream:
        _, body = _chat(upstream, {"messages": [{"role": "user", "content": "q"}], "max_tokens": 4})
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "<think>long thought"
    assert body["usage"]["completion_tokens"] == 4


def test_context_length_overflow_returns_vllms_400_body():
    with ScriptedUpstream(max_model_len=50) as upstream:
        status, body = _chat(upstream, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100})
    assert status == 400
    assert "maximum context length is 50 tokens" in body["error"]["message"]
    assert body["error"]["type"] == "BadRequestError"


def test_random_faults_are_deterministic_for_a_seed():
    def statuses(seed):
        with ScriptedUpstream(error_rate=0.5, error_kinds=("5xx", "429"), seed=seed) as upstream:
            return [_chat(upstream, {"messages": [{"role": "user", "content": "x"}]})[0] for _ in range(12)]

    first = statuses(3)
    assert first == statuses(3)
    assert set(first) == {200, 503, 429}


def test_connection_reset_and_timeout_faults():
    rules = [{"match": {"last_user_regex": "reset"}, "fault": "reset"}, {"fault": "timeout"}]
    with ScriptedUpstream(rules=rules, hang_seconds=30) as upstream:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            _chat(upstream, {"messages": [{"role": "user", "content": "reset"}]})
        with pytest.raises(asyncio.TimeoutError):
            asyncio.run(
                _post(upstream.base_url + "/chat/completions", {"messages": [{"role": "user", "content": "t"}]}, 0.3)
            )


def test_latency_is_applied_and_requests_are_recorded():
    with ScriptedUpstream(latency=0.2) as upstream:
        started = time.monotonic()
        _chat(upstream, {"model": "abc", "messages": [{"role": "user", "content": "x"}]})
        elapsed = time.monotonic() - started
        recorded = upstream.requests[-1]
    assert elapsed >= 0.2
    assert recorded.path == "/v1/chat/completions" and recorded.body["model"] == "abc"


def test_bad_requests_get_400(upstream):
    assert _chat(upstream, {"messages": []})[0] == 400
    assert asyncio.run(_post(upstream.base_url + "/responses", {"model": "m"}))[0] == 400


def test_responses_length_limit_marks_incomplete():
    with ScriptedUpstream(rules=[{"reply": {"content": "one two three four"}}]) as upstream:
        _, body = asyncio.run(_post(upstream.base_url + "/responses", {"input": "q", "max_output_tokens": 2}))
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["content"][0]["text"] == "one "


def test_command_line_server_serves_rules_from_a_file(tmp_path):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"rules": [{"reply": {"content": "from file"}}], "model": "file-model"}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "nemo_gym.testing.scripted_upstream", "--port", str(port)]
    process = subprocess.Popen(command + ["--rules", str(rules_file)], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = asyncio.run(
                    _post(url + "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
                )
                break
            except aiohttp.ClientConnectionError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "scripted upstream did not start"
                time.sleep(0.05)
        assert body["choices"][0]["message"]["content"] == "from file"
        assert body["model"] == "file-model"
    finally:
        process.terminate()
        process.wait(timeout=10)
