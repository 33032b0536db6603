import pytest

from nemo_gym.chat_translation import (
    TranslationError,
    build_response,
    chat_message_to_output_items,
    extract_reasoning,
    inline_reasoning_from_upstream,
    responses_to_chat_params,
    split_reasoning_for_upstream,
)
from nemo_gym.openai_utils import NeMoGymResponse, NeMoGymResponseCreateParamsNonStreaming
from nemo_gym.training_mode import generation_token_fields

TOKENS = {"prompt_token_ids": [1, 2, 3], "generation_token_ids": [4, 5, 6], "generation_log_probs": [7.0, 8.0, 9.0]}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather",
    "parameters": {"type": "object", "properties": {"when": {"type": "date"}}},
    "strict": True,
}


def _chat(body, keep_token_ids=False):
    # Go through the real request schema, as the server does, so defaults and coercions apply.
    dumped = NeMoGymResponseCreateParamsNonStreaming.model_validate(body).model_dump(exclude_unset=True)
    return responses_to_chat_params(dumped, keep_token_ids=keep_token_ids)


def _fc(call_id="call_1", **extra):
    return {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": "{}", **extra}


def test_bare_string_input_becomes_a_user_message_with_list_content():
    assert _chat({"input": "hello"}) == {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    }


def test_user_string_stays_a_string_and_lists_become_text_parts_for_every_role():
    params = _chat(
        {
            "input": [
                {"role": "user", "content": "hello"},
                {"role": "system", "content": [{"type": "input_text", "text": "s"}]},
                {"role": "developer", "content": [{"type": "input_text", "text": "d"}], "type": "message"},
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
                },
            ]
        }
    )
    assert params["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "system", "content": [{"type": "text", "text": "s"}]},
        {"role": "developer", "content": [{"type": "text", "text": "d"}]},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]


def test_images_become_image_url_parts():
    part = {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}
    params = _chat({"input": [{"role": "user", "content": [part]}]})
    assert params["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}}
    ]


def test_only_set_fields_go_upstream_and_max_output_tokens_becomes_max_tokens():
    params = _chat({"input": "hi", "max_output_tokens": 7, "temperature": 0.5, "top_p": 0.9, "metadata": {"a": "b"}})
    assert params == {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "metadata": {"a": "b"},
    }


def test_instructions_become_a_leading_system_message():
    params = _chat({"input": "hi", "instructions": "Be brief."})
    assert params["messages"][0] == {"role": "system", "content": "Be brief."}


def test_null_top_logprobs_is_dropped():
    assert "top_logprobs" not in _chat({"input": "hi", "top_logprobs": None})
    assert _chat({"input": "hi", "top_logprobs": 2})["top_logprobs"] == 2


def test_tools_are_flattened_without_strict_and_schemas_pass_verbatim():
    params = _chat({"input": "hi", "tools": [WEATHER], "tool_choice": "required", "parallel_tool_calls": False})
    assert params["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER["parameters"]},
        }
    ]
    assert params["tool_choice"] == "required"
    assert params["parallel_tool_calls"] is False


def test_named_tool_choice_is_translated():
    params = _chat({"input": "hi", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_weather"}})
    assert params["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_empty_tools_and_tool_choice_without_tools_are_not_sent():
    params = _chat({"input": "hi", "tools": [], "tool_choice": "auto", "parallel_tool_calls": True})
    assert set(params) == {"messages"}


def test_non_function_tools_are_a_clear_error():
    with pytest.raises(TranslationError, match="Only function tools"):
        _chat({"input": "hi", "tools": [{"type": "web_search"}]})


def test_reasoning_effort_and_json_schema_format_are_mapped():
    text = {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": True}}
    params = _chat({"input": "hi", "reasoning": {"effort": "low"}, "text": text})
    assert params["reasoning_effort"] == "low"
    assert params["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    }


def test_consecutive_assistant_items_merge_into_one_message_in_input_order():
    params = _chat(
        {
            "input": [
                {"role": "user", "content": "q"},
                {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "Checking"}]},
                {"role": "assistant", "content": "Sure, one sec."},
                {
                    "role": "assistant",
                    "id": "m",
                    "content": [{"type": "output_text", "text": "More.", "annotations": []}],
                },
                _fc(),
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                _fc("call_2"),
                {"type": "function_call_output", "call_id": "call_2", "output": "rainy"},
                {"role": "assistant", "content": "Done"},
                {"role": "user", "content": "thanks"},
            ]
        }
    )
    call = {"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    assert params["messages"] == [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "<think>Checking</think>Sure, one sec.More.",
            "tool_calls": [{"id": "call_1", **call}],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_2", **call}]},
        {"role": "tool", "content": "rainy", "tool_call_id": "call_2"},
        {"role": "assistant", "content": "Done"},
        {"role": "user", "content": "thanks"},
    ]


def test_parallel_calls_give_one_assistant_message_then_one_tool_message_each():
    items = [_fc("a"), _fc("b")]
    items += [{"type": "function_call_output", "call_id": c, "output": c} for c in "ab"]
    messages = _chat({"input": items})["messages"]
    assert [m["role"] for m in messages] == ["assistant", "tool", "tool"]
    assert [c["id"] for c in messages[0]["tool_calls"]] == ["a", "b"]


def test_refusal_only_assistant_turn_disappears():
    refusal = {"role": "assistant", "id": "m", "content": [{"type": "refusal", "refusal": "no"}]}
    assert _chat({"input": [refusal, {"role": "user", "content": "x"}]})["messages"] == [
        {"role": "user", "content": "x"}
    ]


def test_training_token_fields_are_stamped_on_their_own_turn_only():
    items = [
        {"role": "user", "content": "q"},
        _fc("a", **TOKENS),
        {"type": "function_call_output", "call_id": "a", "output": "o"},
        {"role": "assistant", "content": "injected by a harness"},
        {"role": "user", "content": "again"},
    ]
    messages = _chat({"input": items}, keep_token_ids=True)["messages"]
    assert {k: messages[1][k] for k in TOKENS} == TOKENS
    assert not set(TOKENS) & set(messages[3])
    untrained = _chat({"input": items})["messages"]
    assert not set(TOKENS) & set(untrained[1])


def test_reply_with_think_blocks_text_and_calls_gives_reasoning_message_calls_in_order():
    message = {
        "role": "assistant",
        "content": "pre<think>a</think>mid<think>b\nc</think>post",
        "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}],
    }
    items = chat_message_to_output_items(message)
    assert [item["type"] for item in items] == ["reasoning", "message", "function_call"]
    assert items[0]["id"].startswith("rs_") and "status" not in items[0]
    assert [s["text"] for s in items[0]["summary"]] == ["a", "b\nc"]
    assert items[1]["id"].startswith("msg_") and items[1]["status"] == "completed"
    assert items[1]["content"] == [{"annotations": [], "text": "premidpost", "type": "output_text", "logprobs": None}]
    assert items[2] == {
        "arguments": '{"x":1}',
        "call_id": "call_9",
        "name": "f",
        "type": "function_call",
        "id": "call_9",
        "status": "completed",
    }


def test_empty_output_rule():
    assert [i["type"] for i in chat_message_to_output_items({"role": "assistant", "content": None})] == ["message"]
    assert chat_message_to_output_items({"role": "assistant", "content": ""})[0]["content"][0]["text"] == ""
    only_reasoning = chat_message_to_output_items({"role": "assistant", "content": "<think>r</think>"})
    assert [i["type"] for i in only_reasoning] == ["reasoning"]
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    only_calls = chat_message_to_output_items({"role": "assistant", "content": None, "tool_calls": [call]})
    assert [i["type"] for i in only_calls] == ["function_call"]


def test_unclosed_think_stays_in_the_text():
    blocks, text = extract_reasoning("<think>cut off mid")
    assert blocks == [] and text == "<think>cut off mid"


def test_training_fields_go_on_the_last_item_only():
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    message = {"role": "assistant", "content": "<think>r</think>hi", "tool_calls": [call], **TOKENS}
    items = chat_message_to_output_items(message, keep_token_ids=True)
    assert {k: items[-1][k] for k in TOKENS} == TOKENS
    assert all(not set(TOKENS) & set(item) for item in items[:-1])
    assert all(not set(TOKENS) & set(item) for item in chat_message_to_output_items(message))


def _replay(items, keep_token_ids=False):
    history = [{"role": "system", "content": "sys  \n"}, {"role": "user", "content": "\n user \n"}]
    return _chat({"input": history + items}, keep_token_ids=keep_token_ids)["messages"]


@pytest.mark.parametrize(
    "content",
    [
        "<think>I'm thinking</think>I'm chatting!",
        "<think>\n first  \n</think><think> second\n\n</think>\n\n  Answer with  spaces \n",
        "<think></think>after an empty block",
        "   ",
        "<think>only reasoning</think>",
    ],
)
@pytest.mark.parametrize("keep_token_ids", [False, True])
def test_round_trip_reproduces_the_assistant_message_byte_for_byte(content, keep_token_ids):
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "SF"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    reply = {"role": "assistant", "content": content, "tool_calls": calls, **TOKENS}
    items = chat_message_to_output_items(reply, keep_token_ids=keep_token_ids)
    # Through the wire schema, as an agent would send them back.
    response = NeMoGymResponse.model_validate(
        build_response({"input": "x"}, items, model="m", finish_reason="tool_calls")
    )
    replayed_items = [item.model_dump(exclude_none=True) for item in response.output]
    system, user, assistant = _replay(replayed_items, keep_token_ids)
    assert system == {"role": "system", "content": "sys  \n"}
    assert user == {"role": "user", "content": "\n user \n"}
    assert assistant["content"] == content
    assert assistant["tool_calls"] == calls
    assert ({k: assistant[k] for k in TOKENS} == TOKENS) if keep_token_ids else not set(TOKENS) & set(assistant)


def test_reasoning_parser_fields_fold_into_think_tags_and_split_back():
    message = {"role": "assistant", "content": " hello hello", "reasoning_content": "R", "reasoning": None}
    inline_reasoning_from_upstream(message, uses_reasoning_parser=True)
    assert message == {"role": "assistant", "content": "<think>R</think> hello hello"}
    split_reasoning_for_upstream(message)
    assert message == {"role": "assistant", "content": " hello hello", "reasoning_content": "R", "reasoning": "R"}

    newer = {"role": "assistant", "content": None, "reasoning": "only"}
    inline_reasoning_from_upstream(newer, uses_reasoning_parser=True)
    assert newer["content"] == "<think>only</think>"


def test_split_keeps_later_blocks_in_the_text():
    message = {"role": "assistant", "content": "<think>a</think><think>b</think>text"}
    split_reasoning_for_upstream(message)
    assert message["reasoning_content"] == "a" and message["content"] == "<think>b</think>text"


def test_reasoning_field_without_parser_flag_is_a_clear_error():
    with pytest.raises(TranslationError, match="uses_reasoning_parser"):
        inline_reasoning_from_upstream({"content": "x", "reasoning_content": "r"}, uses_reasoning_parser=False)
    message = {"content": "x", "reasoning_content": None}
    inline_reasoning_from_upstream(message, uses_reasoning_parser=False)
    assert message == {"content": "x"}


def test_envelope_echoes_request_forces_model_and_maps_length_and_usage():
    request = {"input": "x", "tool_choice": "required", "instructions": "I", "model": "client-model"}
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    response = build_response(request, [], model="config-model", finish_reason="length", usage=usage)
    assert response["model"] == "config-model"
    assert response["id"].startswith("resp_") and response["object"] == "response"
    assert response["tool_choice"] == "required" and response["instructions"] == "I"
    assert response["parallel_tool_calls"] is True and response["tools"] == []
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["status"] == "incomplete"
    assert response["usage"]["input_tokens"] == 5 and response["usage"]["output_tokens"] == 2
    completed = build_response({"input": "x"}, [], model="m", finish_reason="stop")
    assert completed["status"] == "completed" and completed["incomplete_details"] is None
    assert completed["tool_choice"] == "auto" and completed["usage"] is None


def test_generation_token_fields_from_token_id_strings_or_token_ids():
    logprobs = {"content": [{"token": "token_id:151667", "logprob": -0.1}, {"token": "token_id:42", "logprob": -0.2}]}
    assert generation_token_fields({"logprobs": logprobs}) == ([151667, 42], [-0.1, -0.2])
    assert generation_token_fields({"logprobs": logprobs, "token_ids": [1, 2]}) == ([1, 2], [-0.1, -0.2])
    with pytest.raises(RuntimeError, match="no logprobs"):
        generation_token_fields({"logprobs": None})
