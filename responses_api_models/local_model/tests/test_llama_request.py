"""Chat Completions params -> llama-cpp-python arguments (pure functions, no model)."""

import pytest

from responses_api_models.local_model.llama_request import (
    LlamaRequest,
    UnsupportedRequestError,
    adapt_messages,
    build_llama_request,
    finish_completion,
)

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
OTHER_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def _build(params: dict, chat_format: str = "chatml-function-calling", default: int | None = 32) -> LlamaRequest:
    return build_llama_request(params, model="m", chat_format=chat_format, max_output_tokens_default=default)


def test_content_parts_are_joined_and_roles_the_templates_drop_are_rewritten():
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny.", "tool_calls": None, "prompt_token_ids": [1]},
    ]
    assert adapt_messages(messages, chat_format="chatml-function-calling", has_tools=True) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a\nb"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "user", "content": "functions.get_weather returned:\nsunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]


def test_function_calling_format_gets_a_system_turn_to_carry_the_tool_list():
    messages = [{"role": "user", "content": "hi"}]
    with_tools = adapt_messages(messages, chat_format="chatml-function-calling", has_tools=True)
    assert with_tools[0] == {"role": "system", "content": ""}
    assert adapt_messages(messages, chat_format="chatml-function-calling", has_tools=False) == messages
    assert adapt_messages(messages, chat_format="chatml", has_tools=True) == messages


def test_non_text_content_is_refused():
    image = {"type": "image_url", "image_url": {"url": "data:,"}}
    with pytest.raises(UnsupportedRequestError, match="text-only model: 'image_url'"):
        adapt_messages([{"role": "user", "content": [image]}], chat_format="chatml", has_tools=False)


def test_only_known_parameters_are_passed_and_max_tokens_has_a_default():
    params = {
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.5,
        "seed": 3,
        "store": True,
        "metadata": {"a": "b"},
        "reasoning_effort": "low",
        "logit_bias": {"42": -100},
    }
    request = _build(params)
    assert request.seed == 3 and request.parallel_tool_calls is True
    assert request.kwargs == {
        "messages": [{"role": "user", "content": "x"}],
        "model": "m",
        "temperature": 0.5,
        "seed": 3,
        "max_tokens": 32,
        "logit_bias": {42: -100},
    }
    assert _build({**params, "max_tokens": 5}).kwargs["max_tokens"] == 5
    assert _build({**params, "max_tokens": 5, "max_completion_tokens": 7}).kwargs["max_tokens"] == 7
    assert "max_tokens" not in _build(params, default=None).kwargs


def test_tools_default_to_auto_and_required_forces_a_single_tool():
    base = {"messages": [{"role": "user", "content": "x"}], "tools": [TOOL]}
    assert _build(base).kwargs["tool_choice"] == "auto"
    assert _build({**base, "tool_choice": "none"}).kwargs["tool_choice"] == "none"
    forced = {"type": "function", "function": {"name": "get_weather"}}
    assert _build({**base, "tool_choice": "required"}).kwargs["tool_choice"] == forced
    assert _build({**base, "tools": [TOOL, OTHER_TOOL], "tool_choice": "required"}).kwargs["tool_choice"] == "auto"
    assert "tool_choice" not in _build({"messages": base["messages"], "tool_choice": "auto"}).kwargs


def test_n_above_one_is_refused():
    with pytest.raises(UnsupportedRequestError, match="n must be 1"):
        _build({"messages": [], "n": 2})


def test_finish_drops_the_legacy_function_call_and_honours_parallel_tool_calls():
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in range(2)]
    completion = {
        "choices": [{"message": {"role": "assistant", "tool_calls": calls, "function_call": {"name": "f:"}}}]
    }
    sequential = LlamaRequest(kwargs={}, seed=None, parallel_tool_calls=False)
    message = finish_completion(completion, sequential)["choices"][0]["message"]
    assert message == {"role": "assistant", "tool_calls": calls[:1]}
