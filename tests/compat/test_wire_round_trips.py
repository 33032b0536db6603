"""The documented wire shapes round-trip through the public types and through the Responses<->Chat translation
that vllm_model uses (nemo_gym.chat_translation), with content parts kept as plain dicts."""

import json

from nemo_gym.chat_translation import chat_message_to_output_items, responses_to_chat_params
from nemo_gym.openai_utils import (
    NeMoGymChatCompletion,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymEasyInputMessage,
    NeMoGymMessage,
    NeMoGymResponse,
    NeMoGymResponseCreateParamsNonStreaming,
    NeMoGymResponseFunctionToolCall,
    NeMoGymResponseOutputMessage,
    NeMoGymResponseOutputRefusal,
    NeMoGymResponseOutputText,
    NeMoGymResponseReasoningItem,
    NeMoGymSummary,
)


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


def test_output_with_text_refusal_and_reasoning_summary_round_trips_through_the_response():
    message = NeMoGymResponseOutputMessage(
        id="msg_1",
        content=[
            NeMoGymResponseOutputText(annotations=[], text="The answer is 4."),
            NeMoGymResponseOutputRefusal(refusal="I will not say more."),
        ],
    )
    reasoning = NeMoGymResponseReasoningItem(id="rs_1", summary=[NeMoGymSummary(text="2+2", type="summary_text")])
    call = NeMoGymResponseFunctionToolCall(arguments='{"x": 1}', call_id="call_1", name="f")
    response = _response([reasoning, message, call])

    wire = json.loads(response.model_dump_json())
    again = NeMoGymResponse.model_validate(wire)
    assert [type(item) for item in again.output] == [
        NeMoGymResponseReasoningItem,
        NeMoGymResponseOutputMessage,
        NeMoGymResponseFunctionToolCall,
    ]
    assert again.output[1].content == message.content
    assert again.output_text == "The answer is 4."
    assert wire["output"][0] == {
        "id": "rs_1",
        "summary": [{"text": "2+2", "type": "summary_text"}],
        "type": "reasoning",
        "encrypted_content": None,
    }
    assert wire["output"][1]["content"][1] == {"refusal": "I will not say more.", "type": "refusal"}
    assert json.loads(again.model_dump_json()) == wire


def test_replayed_output_translates_to_one_assistant_turn_and_back():
    output = [
        {"id": "rs_1", "summary": [{"text": "think", "type": "summary_text"}], "type": "reasoning"},
        {
            "id": "msg_1",
            "role": "assistant",
            "type": "message",
            "content": [{"type": "output_text", "text": "Calling f.", "annotations": []}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
    ]
    params = NeMoGymResponseCreateParamsNonStreaming.model_validate(
        {"input": [{"role": "user", "content": [{"type": "input_text", "text": "go"}]}, *output]}
    )
    chat = responses_to_chat_params(params.model_dump(mode="json", exclude_unset=True))
    user, assistant = chat["messages"]
    assert user == {"role": "user", "content": [{"type": "text", "text": "go"}]}
    assert assistant["content"] == "<think>think</think>Calling f."
    assert assistant["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    items = chat_message_to_output_items(assistant)
    assert [item["type"] for item in items] == ["reasoning", "message", "function_call"]
    assert items[0]["summary"] == [{"text": "think", "type": "summary_text"}]
    assert items[1]["content"][0]["text"] == "Calling f."
    assert _response(items).output[1].content[0] == NeMoGymResponseOutputText(annotations=[], text="Calling f.")


def test_input_parts_stay_plain_dicts_with_their_keys():
    part = {"type": "input_text", "text": "hi"}
    easy = NeMoGymEasyInputMessage(role="user", content=[part])
    structured = NeMoGymMessage(role="developer", content=[part])
    assert easy.content == [part] and isinstance(easy.content[0], dict)
    assert structured.content == [part] and structured.status == "completed"


def test_every_chat_role_with_text_parts_and_tool_calls_validates_and_dumps_as_lists():
    text = [{"type": "text", "text": "x"}]
    messages = [
        {"role": "developer", "content": text},
        {"role": "system", "content": text},
        {"role": "user", "content": text, "name": "u"},
        {
            "role": "assistant",
            "content": text,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": text},
        {
            "role": "assistant",
            "content": "ok",
            "prompt_token_ids": [1],
            "generation_token_ids": [2],
            "generation_log_probs": [-0.1],
        },
    ]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    params = NeMoGymChatCompletionCreateParamsNonStreaming.model_validate({"messages": messages, "tools": tools})
    assert params.messages == messages  # plain dicts, lists stay lists (read twice: no lazy iterators)
    assert params.messages == messages
    assert params.model_dump(exclude_unset=True) == {"messages": messages, "tools": tools}
    assert json.loads(params.model_dump_json(exclude_unset=True))["messages"] == messages


def test_chat_reply_with_tool_calls_and_training_fields():
    completion = NeMoGymChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                        "prompt_token_ids": [1, 2],
                        "generation_token_ids": ["3"],
                        "generation_log_probs": [-0.5],
                    },
                }
            ],
        }
    )
    message = completion.choices[0].message
    assert message.generation_token_ids == [3]  # numeric strings are coerced, as in the reference
    assert message.tool_calls[0].function.arguments == "{}"


def test_function_call_output_parts_reach_the_chat_tool_message_as_text_parts():
    params = NeMoGymResponseCreateParamsNonStreaming.model_validate(
        {
            "input": [
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": "42"}]},
            ]
        }
    )
    chat = responses_to_chat_params(params.model_dump(mode="json", exclude_unset=True))
    assert chat["messages"][-1] == {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "42"}]}
