import pytest
from pydantic import ValidationError

from nemo_gym.openai_utils import (
    RESPONSES_TO_TRAIN,
    NeMoGymAsyncOpenAI,
    NeMoGymChatCompletion,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymChatCompletionMessageForTraining,
    NeMoGymEasyInputMessage,
    NeMoGymFunctionCallOutput,
    NeMoGymMessage,
    NeMoGymResponse,
    NeMoGymResponseCreateParamsNonStreaming,
    NeMoGymResponseFunctionToolCall,
    NeMoGymResponseFunctionToolCallForTraining,
    NeMoGymResponseOutputMessage,
    NeMoGymResponseReasoningItem,
    NeMoGymResponseReasoningItemForTraining,
    UpstreamHTTPError,
)

TOKENS = {"prompt_token_ids": [1, 2], "generation_token_ids": [3], "generation_log_probs": [-0.5]}


def _params(**kwargs):
    return NeMoGymResponseCreateParamsNonStreaming.model_validate(kwargs)


def test_create_params_defaults_match_the_reference():
    params = _params(input="hello")
    assert params.parallel_tool_calls is True
    assert params.tool_choice == "auto"
    assert params.tools == []
    assert params.model_dump(exclude_unset=True) == {"input": "hello"}


def test_create_params_require_input():
    with pytest.raises(ValidationError, match="input"):
        _params()


def test_create_params_reject_unknown_top_level_keys():
    with pytest.raises(ValidationError, match="extra_forbidden"):
        _params(input="x", not_a_field=1)


def test_create_params_reject_streaming():
    with pytest.raises(ValidationError, match="literal_error"):
        _params(input="x", stream=True)
    assert _params(input="x", stream=False).stream is False


@pytest.mark.parametrize("item_type", ["item_reference", "web_search_call", "computer_call"])
def test_create_params_reject_unsupported_item_types(item_type):
    with pytest.raises(ValidationError, match="Unsupported item"):
        _params(input=[{"type": item_type, "id": "x"}])


def test_items_are_typed_by_type_role_and_shape():
    params = _params(
        input=[
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "input_text", "text": "s"}], "status": "completed"},
            {"role": "assistant", "id": "msg_1", "content": [{"type": "output_text", "text": "a", "annotations": []}]},
            {"role": "assistant", "content": "plain assistant"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "t"}]},
        ]
    )
    assert [type(item) for item in params.input] == [
        NeMoGymEasyInputMessage,
        NeMoGymMessage,
        NeMoGymResponseOutputMessage,
        NeMoGymEasyInputMessage,
        NeMoGymResponseFunctionToolCall,
        NeMoGymFunctionCallOutput,
        NeMoGymResponseReasoningItem,
    ]


def test_message_without_type_defaults_to_message():
    item = _params(input=[{"role": "developer", "content": "d"}]).input[0]
    assert item.type == "message"


def test_items_with_token_fields_become_training_variants_and_ids_are_coerced():
    params = _params(
        input=[
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", **TOKENS},
            {"type": "reasoning", "id": "rs", "summary": [], **{**TOKENS, "generation_token_ids": ["151667"]}},
        ]
    )
    call, reasoning = params.input
    assert isinstance(call, NeMoGymResponseFunctionToolCallForTraining)
    assert isinstance(reasoning, NeMoGymResponseReasoningItemForTraining)
    assert reasoning.generation_token_ids == [151667]


def test_incomplete_token_bundle_is_rejected():
    with pytest.raises(ValidationError, match="generation_log_probs"):
        _params(
            input=[
                {
                    "type": "function_call",
                    "call_id": "c",
                    "name": "f",
                    "arguments": "{}",
                    **TOKENS,
                    "generation_log_probs": None,
                }
            ]
        )


def test_reasoning_status_is_dropped():
    item = _params(input=[{"type": "reasoning", "id": "rs", "summary": [], "status": "completed"}]).input[0]
    assert "status" not in item.model_dump()


def test_function_call_output_is_a_string_or_a_list_of_parts():
    with pytest.raises(ValidationError):
        _params(input=[{"type": "function_call_output", "call_id": "c", "output": {"a": 1}}])


def test_every_item_a_model_call_can_end_with_has_a_training_variant():
    # The reference's five: messages (three forms), function calls and reasoning; not function_call_output.
    assert RESPONSES_TO_TRAIN[NeMoGymResponseFunctionToolCall] is NeMoGymResponseFunctionToolCallForTraining
    assert len(RESPONSES_TO_TRAIN) == 5
    assert NeMoGymFunctionCallOutput not in RESPONSES_TO_TRAIN


def _response(output):
    return NeMoGymResponse(
        id="resp_1",
        created_at=1,
        model="m",
        object="response",
        output=output,
        parallel_tool_calls=True,
        tool_choice="auto",
        tools=[],
    )


def test_response_output_text_joins_assistant_text_of_every_shape():
    response = _response(
        [
            {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "ignored"}]},
            {
                "id": "m1",
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "a", "annotations": []},
                    {"type": "refusal", "refusal": "no"},
                ],
            },
            {"type": "message", "role": "assistant", "content": "b"},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        ]
    )
    assert response.output_text == "ab"


def test_response_round_trips_through_json_with_training_items():
    response = _response([{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", **TOKENS}])
    again = NeMoGymResponse.model_validate_json(response.model_dump_json())
    assert isinstance(again.output[0], NeMoGymResponseFunctionToolCallForTraining)
    assert again.output[0].prompt_token_ids == [1, 2]


def test_chat_params_ignore_unknown_keys_and_keep_declared_message_fields():
    params = NeMoGymChatCompletionCreateParamsNonStreaming.model_validate(
        {
            "messages": [{"role": "user", "content": "x", "name": "bob", "reasoning_content": "dropped"}],
            "top_k": 5,
            "chat_template_kwargs": {"enable_thinking": False},
        }
    )
    assert params.model_dump(exclude_unset=True) == {"messages": [{"role": "user", "content": "x", "name": "bob"}]}


def test_chat_params_keep_training_fields_on_assistant_messages():
    params = NeMoGymChatCompletionCreateParamsNonStreaming.model_validate(
        {"messages": [{"role": "assistant", "content": "y", **TOKENS}, {"role": "assistant", "content": "z"}]}
    )
    first, second = params.model_dump(exclude_unset=True)["messages"]
    assert first["prompt_token_ids"] == [1, 2]
    assert "prompt_token_ids" not in second


def test_chat_params_reject_unknown_roles_and_streaming():
    with pytest.raises(ValidationError, match="Unsupported message"):
        NeMoGymChatCompletionCreateParamsNonStreaming.model_validate({"messages": [{"role": "robot", "content": ""}]})
    with pytest.raises(ValidationError):
        NeMoGymChatCompletionCreateParamsNonStreaming.model_validate({"messages": [], "stream": True})


def test_chat_completion_keeps_vllm_extras_and_types_training_messages():
    completion = NeMoGymChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "prompt_logprobs": None,
            "kv_transfer_params": None,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "stop_reason": None,
                    "message": {"role": "assistant", "content": "hi", "reasoning_content": None, **TOKENS},
                }
            ],
        }
    )
    message = completion.choices[0].message
    assert isinstance(message, NeMoGymChatCompletionMessageForTraining)
    dumped = completion.model_dump()
    assert "prompt_logprobs" in dumped and "stop_reason" in dumped["choices"][0]
    assert dumped["choices"][0]["message"]["generation_log_probs"] == [-0.5]


def test_client_derives_tokenize_root_and_auth_header():
    client = NeMoGymAsyncOpenAI(base_url="http://h:1/v1/", api_key="k", default_headers={"X-A": "1"})
    assert client.base_url == "http://h:1/v1"
    assert client.root_url == "http://h:1"
    assert client._headers == {"Authorization": "Bearer k", "X-A": "1"}
    assert NeMoGymAsyncOpenAI(base_url="http://h:1", api_key="k").root_url == "http://h:1"


def test_upstream_error_carries_status_and_body():
    error = UpstreamHTTPError("POST", "http://h/v1/chat/completions", 400, b'{"message":"context length"}')
    assert error.status == 400
    assert error.response_content == b'{"message":"context length"}'
    assert "context length" in str(error)


def test_function_tools_may_omit_strict_and_parameters_but_need_a_name():
    params = _params(input="x", tools=[{"type": "function", "name": "f"}])
    assert params.tools == [{"type": "function", "name": "f"}]
    with pytest.raises(ValidationError) as error:
        _params(input="x", tools=[{"type": "function", "parameters": {}}])
    assert len(error.value.errors()) == 1 and error.value.errors()[0]["loc"][-1] == "name"


def test_hosted_tools_use_the_sdk_schema():
    params = _params(input="x", tools=[{"type": "web_search"}])
    assert params.tools == [{"type": "web_search"}]
