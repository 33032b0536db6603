"""The Responses-body builders of ``nemo_gym.testing.responses`` produce what the NeMo Gym models accept."""

from nemo_gym.base_resources_server import BaseVerifyRequest
from nemo_gym.openai_utils import (
    NeMoGymFunctionCallOutput,
    NeMoGymResponse,
    NeMoGymResponseFunctionToolCall,
    NeMoGymResponseOutputMessage,
    NeMoGymResponseReasoningItem,
)
from nemo_gym.testing.responses import (
    assistant_message,
    function_call,
    function_call_output,
    make_response,
    reasoning,
    user_message,
    verify_request,
)


def test_a_text_becomes_one_assistant_message_in_a_valid_response() -> None:
    response = NeMoGymResponse.model_validate(make_response("Bring a coat."))
    assert (response.id, response.model, response.object, response.created_at) == ("resp_1", "policy", "response", 0)
    assert response.parallel_tool_calls is True and response.tool_choice == "auto" and response.tools == []
    assert isinstance(response.output[0], NeMoGymResponseOutputMessage)
    assert response.output[0].id == "msg_1" and response.output[0].status == "completed"
    assert response.output_text == "Bring a coat."


def test_every_item_builder_validates_as_its_item_type() -> None:
    output = [
        reasoning("thinking", id="rs_9"),
        function_call("get_weather", {"city": "Oslo"}, "c1"),
        function_call_output("c1", "cold"),
        function_call("get_time", "{not json", "c2"),
        assistant_message("done", id="msg_2"),
    ]
    items = NeMoGymResponse.model_validate(make_response(output)).output
    assert [type(item) for item in items] == [
        NeMoGymResponseReasoningItem,
        NeMoGymResponseFunctionToolCall,
        NeMoGymFunctionCallOutput,
        NeMoGymResponseFunctionToolCall,
        NeMoGymResponseOutputMessage,
    ]
    assert items[0].id == "rs_9" and items[0].summary[0].text == "thinking"
    assert (items[1].name, items[1].arguments, items[1].call_id, items[1].id) == (
        "get_weather",
        '{"city": "Oslo"}',
        "c1",
        "fc_c1",
    )
    assert (items[2].call_id, items[2].output) == ("c1", "cold")
    assert items[3].arguments == "{not json"  # a string is sent verbatim, malformed or not
    assert items[4].id == "msg_2" and items[4].content[0].text == "done"


def test_overrides_replace_or_add_top_level_fields() -> None:
    body = make_response([], id="resp_7", model="judge", parallel_tool_calls=False, incomplete_details=None)
    response = NeMoGymResponse.model_validate(body)
    assert (response.id, response.model, response.parallel_tool_calls, response.output) == (
        "resp_7",
        "judge",
        False,
        [],
    )
    assert make_response([])["id"] == "resp_1"  # defaults are fresh on each call


def test_make_response_copies_the_output_list() -> None:
    output = [assistant_message("a")]
    body = make_response(output)
    body["output"].append(assistant_message("b"))
    assert len(output) == 1


def test_verify_request_is_a_valid_verify_body_with_the_task_fields() -> None:
    body = verify_request("\\boxed{4}", input=[user_message("What is 2+2?")], expected_answer="4")
    assert body["responses_create_params"] == {"input": [{"role": "user", "content": "What is 2+2?"}]}
    assert body["expected_answer"] == "4"
    request = BaseVerifyRequest.model_validate(body)
    assert request.response.output_text == "\\boxed{4}"
    assert request.responses_create_params.input[0].content == "What is 2+2?"


def test_verify_request_keeps_a_string_input_and_a_list_output() -> None:
    body = verify_request([function_call("add", {"amount": 1})], input="count")
    assert body["responses_create_params"]["input"] == "count"
    request = BaseVerifyRequest.model_validate(body)
    assert request.responses_create_params.input == "count"
    assert isinstance(request.response.output[0], NeMoGymResponseFunctionToolCall)
