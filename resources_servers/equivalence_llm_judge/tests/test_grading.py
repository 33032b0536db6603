import re

import pytest

from resources_servers.equivalence_llm_judge.grading import (
    EquivalenceSettings,
    JudgeOutcome,
    build_judge_input,
    extract_generated,
    extract_question,
    grade_equivalence,
    last_assistant_text,
    last_match,
    parse_verdict,
)

EQ, NEQ = "[[A=B]]", "[[A!=B]]"
PARENS = r"\(\((.*?)\)\)"


def _judge_reply(text: str) -> dict:
    return {"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}]}


# ---------------------------------------------------------------------------------------------- extraction


def test_last_match_prefers_first_non_empty_group_of_last_match():
    assert last_match("((a)) ((b))", PARENS) == "b"
    assert last_match("x=1, x=2", r"x=\d") == "x=2"
    assert last_match("(|z)", r"\((\w*)\|(\w*)\)") == "z"
    assert last_match("nothing", PARENS) is None


def test_question_is_last_plain_string_user_message():
    params = {
        "input": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "  first question  "},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "a list, not a string"}]},
            {"role": "user", "content": " second question "},
        ]
    }
    assert extract_question(params) == "second question"
    params["input"].pop()
    assert extract_question(params) == "first question"


def test_question_from_string_input():
    assert extract_question({"input": "  What is 2+2? "}) == "What is 2+2?"


def test_question_extract_regex_takes_last_match_or_keeps_question():
    params = {"input": [{"role": "user", "content": "Instructions...\nQuestion: Who wrote Hamlet?"}]}
    assert extract_question(params, r"Question:\s*(.*)") == "Who wrote Hamlet?"
    assert extract_question(params, r"Problem:\s*(.*)") == "Instructions...\nQuestion: Who wrote Hamlet?"
    assert extract_question(params, r"(unclosed") == "Instructions...\nQuestion: Who wrote Hamlet?"


def test_generated_text_is_last_assistant_message_parts_joined():
    response = {
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "old"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": " part one"},
                    {"type": "output_text", "text": "part two "},
                ],
            },
            {"type": "reasoning", "id": "r", "summary": []},
        ]
    }
    assert last_assistant_text(response) == "part one\npart two"
    assert last_assistant_text({"output": []}) == ""


def test_extract_generated_uses_regex_with_dotall_and_falls_back_to_full_text():
    text = "reasoning\n((multi\nline)) then ((final))"
    assert extract_generated(text, PARENS) == "final"
    assert extract_generated("((a\nb))", PARENS) == "a\nb"
    assert extract_generated("no match", PARENS) == "no match"
    assert extract_generated("bad regex", "(") == "bad regex"
    assert extract_generated("no regex", None) == "no regex"


# ----------------------------------------------------------------------------------------------- judging


def test_build_judge_input_formats_template_with_optional_system_message():
    template = "Q: {question}\nGold: {expected_answer}\nGot: {generated_answer}"
    assert build_judge_input(template, None, "q", "e", "g") == [{"role": "user", "content": "Q: q\nGold: e\nGot: g"}]
    messages = build_judge_input(template, "You grade.", "q", "e", "g")
    assert messages[0] == {"role": "system", "content": "You grade."}
    assert len(messages) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("They match. [[A=B]]", (True, EQ)),
        ("[[A!=B]]", (False, NEQ)),
        ("First [[A=B]] then [[A!=B]]", (True, EQ)),
        ("First [[A!=B]] then [[A=B]]", (False, NEQ)),
        ("no label at all", (False, None)),
    ],
)
def test_parse_verdict_first_label_decides(text, expected):
    assert parse_verdict(_judge_reply(text), EQ, NEQ) == expected


@pytest.mark.parametrize(
    "judge_response",
    [
        None,
        "Internal Server Error",
        {"output": []},
        {"output": [{"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c"}]},
        {"output": [{"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": EQ}]}]},
        {"output": [{"type": "message", "role": "assistant", "content": []}]},
    ],
)
def test_malformed_judge_output_is_not_equal(judge_response):
    assert parse_verdict(judge_response, EQ, NEQ) == (False, None)


def test_parse_verdict_only_reads_last_content_part():
    reply = {
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": EQ}, {"type": "output_text", "text": "unsure"}],
            }
        ]
    }
    assert parse_verdict(reply, EQ, NEQ) == (False, None)


# ------------------------------------------------------------------------------------------------- flow


class ScriptedJudge:
    """Answers equal/not-equal from a script and records every (question, expected, generated) it was asked."""

    def __init__(self, *verdicts: bool):
        self.verdicts = list(verdicts)
        self.calls: list[tuple[str, str, str]] = []

    async def __call__(self, question: str, expected: str, generated: str) -> JudgeOutcome:
        self.calls.append((question, expected, generated))
        return JudgeOutcome(is_equal=self.verdicts.pop(0), evaluation={"call": len(self.calls)})


SWAP = EquivalenceSettings(check_twice_swap=True)


async def test_equal_without_swap_check_gives_one_after_one_call():
    judge = ScriptedJudge(True)
    result = await grade_equivalence("q", "darwin", "Darwin", None, EquivalenceSettings(), judge)
    assert result.reward == 1.0
    assert result.evaluations == [{"call": 1}]


async def test_swap_check_asks_again_with_answers_swapped():
    judge = ScriptedJudge(True, True)
    result = await grade_equivalence("q", "darwin", "Charles Darwin", None, SWAP, judge)
    assert result.reward == 1.0
    assert judge.calls == [("q", "darwin", "Charles Darwin"), ("q", "Charles Darwin", "darwin")]
    assert len(result.evaluations) == 2


async def test_failed_swap_gives_reward_if_swap_fails():
    settings = EquivalenceSettings(check_twice_swap=True, reward_if_swap_fails=-1.0)
    result = await grade_equivalence("q", "a", "b", None, settings, ScriptedJudge(True, False))
    assert result.reward == -1.0


async def test_not_equal_without_record_regex_gives_zero_after_one_call():
    judge = ScriptedJudge(False)
    result = await grade_equivalence("q", "a", "b", None, SWAP, judge)
    assert (result.reward, len(judge.calls)) == (0.0, 1)


async def test_record_regex_extracts_answer_for_the_judge():
    judge = ScriptedJudge(True, True)
    await grade_equivalence("q", "paris", "I think ((Paris)).", PARENS, SWAP, judge)
    assert judge.calls[0] == ("q", "paris", "Paris")


async def test_record_regex_overrides_global_regex():
    settings = EquivalenceSettings(response_extract_regex=r"Answer: (\w+)")
    judge = ScriptedJudge(True)
    await grade_equivalence("q", "x", "Answer: wrong ((right))", PARENS, settings, judge)
    assert judge.calls[0][2] == "right"


async def test_global_regex_is_used_without_record_regex():
    settings = EquivalenceSettings(response_extract_regex=r"Answer: (\w+)")
    judge = ScriptedJudge(True)
    await grade_equivalence("q", "x", "blah\nAnswer: right", None, settings, judge)
    assert judge.calls[0][2] == "right"


async def test_record_regex_is_ignored_when_disabled():
    settings = EquivalenceSettings(use_per_record_regex=False)
    judge = ScriptedJudge(False)
    result = await grade_equivalence("q", "x", "full ((x))", PARENS, settings, judge)
    assert judge.calls == [("q", "x", "full ((x))")]  # no extraction, and no rescue call
    assert result.reward == 0.0


async def test_rescue_on_full_generation_gives_partial_reward():
    judge = ScriptedJudge(False, True)
    result = await grade_equivalence("q", "42", "It is 42. ((forty))", PARENS, SWAP, judge)
    assert result.reward == 0.5
    assert judge.calls == [("q", "42", "forty"), ("q", "42", "It is 42. ((forty))")]
    assert len(result.evaluations) == 2


async def test_failed_rescue_gives_zero():
    result = await grade_equivalence("q", "42", "((forty))", PARENS, SWAP, ScriptedJudge(False, False))
    assert (result.reward, len(result.evaluations)) == (0.0, 2)


async def test_rescue_can_be_disabled():
    settings = EquivalenceSettings(check_full_generation_on_fail=False)
    judge = ScriptedJudge(False)
    result = await grade_equivalence("q", "42", "((forty))", PARENS, settings, judge)
    assert (result.reward, len(judge.calls)) == (0.0, 1)


async def test_long_expected_answer_is_judged_against_full_text_without_rescue():
    expected = "x" * 121
    judge = ScriptedJudge(False)
    result = await grade_equivalence("q", expected, "full ((short))", PARENS, SWAP, judge)
    assert judge.calls == [("q", expected, "full ((short))")]
    assert result.reward == 0.0


async def test_long_expected_answer_with_record_regex_skips_swap_on_equal():
    judge = ScriptedJudge(True)
    result = await grade_equivalence("q", "y" * 121, "full", PARENS, SWAP, judge)
    assert (result.reward, len(judge.calls)) == (1.0, 1)


async def test_long_expected_answer_without_record_regex_still_swaps():
    settings = EquivalenceSettings(check_twice_swap=True, response_extract_regex=r"(\w+)$")
    judge = ScriptedJudge(True, False)
    result = await grade_equivalence("q", "z" * 121, "full text", None, settings, judge)
    assert judge.calls[0][2] == "full text"
    assert (result.reward, len(judge.calls)) == (0.0, 2)


async def test_threshold_is_configurable():
    settings = EquivalenceSettings(extraction_length_threshold=3)
    judge = ScriptedJudge(True)
    await grade_equivalence("q", "four", "((x))", PARENS, settings, judge)
    assert judge.calls[0][2] == "((x))"


def test_parens_regex_is_valid():
    re.compile(PARENS)
