import pytest

from resources_servers.instruction_following.grading import grade, response_text


def _message(text: str) -> dict:
    return {
        "type": "message",
        "role": "assistant",
        "id": "msg_1",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def test_response_text_is_first_part_of_last_output_item():
    response = {
        "output": [
            _message("earlier"),
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "first part", "annotations": []},
                    {"type": "output_text", "text": "second part", "annotations": []},
                ],
            },
        ]
    }
    assert response_text(response) == "first part"


@pytest.mark.parametrize(
    "last_item",
    [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "message", "role": "assistant", "content": []},
    ],
)
def test_response_text_is_empty_when_last_item_has_no_content(last_item):
    assert response_text({"output": [_message("answer"), last_item]}) == ""


def test_response_text_of_empty_output_is_empty():
    assert response_text({"output": []}) == ""


def test_response_text_reads_attribute_objects():
    class Part:
        text = "from attributes"

    class Item:
        content = [Part()]

    class Response:
        output = [Item()]

    assert response_text(Response()) == "from attributes"


IDS = ["punctuation:no_comma", "keywords:existence", "length_constraints:number_words"]
KWARGS = [None, {"keywords": ["tea"]}, {"num_words": 3, "relation": "less than"}]


def test_binary_reward_is_one_only_when_all_instructions_are_followed():
    passed = grade("I like tea", IDS, KWARGS, "binary")
    assert passed.follow_instruction_list == [True, True, False]
    assert passed.follow_all_instructions is False
    assert passed.reward == 0.0
    assert grade("tea time", IDS, KWARGS, "binary").reward == 1.0


def test_fraction_reward_is_share_of_followed_instructions():
    result = grade("I like tea", IDS, KWARGS, "fraction")
    assert result.reward == pytest.approx(2 / 3)
    assert result.follow_all_instructions is False


def test_fraction_reward_of_no_instructions_is_zero():
    assert grade("anything", [], [], "fraction").reward == 0.0


def test_binary_reward_of_no_instructions_is_one():
    assert grade("anything", [], [], "binary").reward == 1.0


def test_kwargs_list_shorter_than_ids_treats_missing_as_null():
    result = grade("no comma", ["punctuation:no_comma", "startend:quotation"], [None], "binary")
    assert result.follow_instruction_list == [True, False]


def test_default_mode_is_binary():
    assert grade("a, b", ["punctuation:no_comma"], [None]).reward == 0.0
