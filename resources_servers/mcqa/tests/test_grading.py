import pytest

from resources_servers.mcqa.grading import (
    assistant_text,
    extract_prediction,
    first_boxed_content,
    normalize,
    option_letters_and_texts,
    reward_for,
)

OPTIONS = [{"A": "Mercury"}, {"B": "Venus"}, {"C": "Mars"}, {"D": "Jupiter"}]


def _message(*texts: str) -> dict:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []} for text in texts],
    }


def test_assistant_text_joins_every_assistant_message_part():
    response = {
        "output": [
            _message("  first", "second"),
            {"type": "reasoning", "id": "r", "summary": [{"type": "summary_text", "text": "hidden"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            _message("third  "),
        ]
    }
    assert assistant_text(response) == "first\nsecond\nthird"


def test_option_letters_take_first_key_uppercased_and_skip_non_letters():
    options = [{"a": "x"}, {"BB": "y"}, {"1": "z"}, {}, {"C": "w", "D": "ignored"}]
    assert option_letters_and_texts(options) == [("A", "x"), ("C", "w")]


def test_normalize_unwraps_nested_text_and_collapses_whitespace():
    assert normalize(r"\text{The  \text{Red}}   Planet") == "the red planet"


def test_first_boxed_content_balances_braces():
    assert first_boxed_content(r"so \boxed{\text{Mars} {x}} and \boxed{B}") == r"\text{Mars} {x}"
    assert first_boxed_content(r"\boxed{unclosed") is None
    assert first_boxed_content("no box") is None


# ------------------------------------------------------------------------------------------- strict mode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"The answer is \boxed{C}.", "C"),
        (r"\boxed{ [C] }", "C"),
        (r"\boxed{(B)} then \boxed{C}", "B"),
        (r"\boxed{1} then \boxed{D}", "D"),
        (r"\boxed{c}", None),  # lowercase is not accepted in strict mode
        (r"\boxed{CD}", None),
        (r"\boxed{Mars}", None),
        (r"\boxed{E}", None),  # not an option
        ("C", None),
    ],
)
def test_strict_single_letter_boxed(text, expected):
    assert extract_prediction(text, OPTIONS, "strict_single_letter_boxed") == expected


def test_strict_is_the_default_mode():
    assert extract_prediction(r"\boxed{A}", OPTIONS) == "A"


# ------------------------------------------------------------------------------------------ lenient boxed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{B}", "B"),
        (r"\boxed{\text{Mars}}", "C"),
        (r"\boxed{The answer is   JUPITER}", "D"),
        (r"\boxed{Mars or Venus}", None),  # two options match
        (r"\boxed{Saturn}", None),
        ("Mars", None),
    ],
)
def test_lenient_boxed(text, expected):
    assert extract_prediction(text, OPTIONS, "lenient_boxed") == expected


# ------------------------------------------------------------------------------------ lenient answer colon


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reasoning...\nAnswer: b", "B"),
        ("ANSWER :   C  \nmore text", "C"),
        ("Answer: mars", "C"),
        ("Answer: The red planet is Mars", None),
        ("Answer: E", None),
        ("Final: C", None),
        ("Answer: A\nAnswer: B", "A"),  # the first one counts
    ],
)
def test_lenient_answer_colon(text, expected):
    assert extract_prediction(text, OPTIONS, "lenient_answer_colon") == expected


# ----------------------------------------------------------------------------------------- output regex


def test_output_regex_takes_last_match_case_insensitively():
    text = "((a)) no wait ((c))"
    assert extract_prediction(text, OPTIONS, output_regex=r"\(\((.*?)\)\)") == "C"


def test_output_regex_trusts_a_single_letter_outside_the_options():
    assert extract_prediction("((h))", OPTIONS, output_regex=r"\(\((.*?)\)\)") == "H"


def test_output_regex_match_is_compared_with_option_texts():
    assert extract_prediction("((  venus ))", OPTIONS, output_regex=r"\(\((.*?)\)\)") == "B"


def test_output_regex_wins_over_grading_mode():
    text = r"\boxed{A} but finally ((D))"
    assert extract_prediction(text, OPTIONS, "strict_single_letter_boxed", r"\(\((.*?)\)\)") == "D"


def test_invalid_output_regex_falls_through_to_grading_mode():
    assert extract_prediction(r"\boxed{A}", OPTIONS, output_regex="((unclosed") == "A"


def test_unmatched_output_regex_falls_through_to_grading_mode():
    assert extract_prediction(r"\boxed{A}", OPTIONS, output_regex=r"\(\((.*?)\)\)") == "A"


def test_output_regex_with_several_groups_uses_first_non_empty():
    assert extract_prediction("Option: B", OPTIONS, output_regex=r"(Choice: (\w))|Option: (\w)") == "B"


# ------------------------------------------------------------------------------------------------ reward


@pytest.mark.parametrize(
    ("predicted", "gold", "reward"),
    [("B", "B", 1.0), ("A", "B", 0.0), (None, "B", 0.0), ("", "", 0.0), (None, "", 0.0)],
)
def test_reward(predicted, gold, reward):
    assert reward_for(predicted, gold) == reward
