"""Answer extraction, judge prompts, verdict parsing and the reward flow of the equivalence judge.

The flow is independent of HTTP: :func:`grade_equivalence` takes a ``judge`` coroutine that asks the judge model
about one (question, expected, generated) triple, so it can be tested with a scripted judge.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nemo_gym.openai_utils import final_output_text, item_field
from nemo_gym.openai_utils import last_assistant_text as last_assistant_text  # the rule this environment uses

logger = logging.getLogger(__name__)

DEFAULT_EQUAL_LABEL = "[[A=B]]"
DEFAULT_NOT_EQUAL_LABEL = "[[A!=B]]"


# ------------------------------------------------------------------------------------------------ extraction


def last_match(text: str, pattern: str, flags: int = 0) -> str | None:
    """The last match of ``pattern``: its first non-empty group, else the whole match; None when nothing matches.

    Raises ``re.error`` for an invalid pattern.
    """
    found = None
    for candidate in re.finditer(pattern, text, flags):
        found = candidate
    if found is None:
        return None
    for group in found.groups():
        if group:
            return group
    return found.group(0)


def extract_question(responses_create_params: Any, question_extract_regex: str | None = None) -> str:
    """The last user message whose content is a plain string (or a string ``input``), stripped, optionally
    narrowed by ``question_extract_regex`` (its last match)."""
    items = item_field(responses_create_params, "input")
    question = ""
    if isinstance(items, str):
        question = items.strip()
    else:
        for item in reversed(items or []):
            content = item_field(item, "content")
            if item_field(item, "role") == "user" and isinstance(content, str):
                question = content.strip()
                break
    if question_extract_regex and question:
        try:
            narrowed = last_match(question, question_extract_regex)
        except re.error as error:
            logger.warning("invalid question_extract_regex %r: %s", question_extract_regex, error)
            narrowed = None
        if narrowed is not None:
            question = narrowed.strip()
    return question


def extract_generated(full_text: str, regex: str | None) -> str:
    """The regex's last match in ``full_text`` (MULTILINE|DOTALL), or the full text when there is no regex, no
    match, or the regex is invalid."""
    if not regex:
        return full_text
    try:
        extracted = last_match(full_text, regex, re.MULTILINE | re.DOTALL)
    except re.error as error:
        logger.warning("invalid answer extraction regex %r: %s", regex, error)
        return full_text
    return full_text if extracted is None else extracted.strip()


# --------------------------------------------------------------------------------------------------- judging


def build_judge_input(
    template: str, system_message: str | None, question: str, expected_answer: str, generated_answer: str
) -> list[dict[str, str]]:
    """An optional system message and the user message ``template.format(question=..., ...)``."""
    messages = [{"role": "system", "content": system_message}] if system_message else []
    prompt = template.format(question=question, expected_answer=expected_answer, generated_answer=generated_answer)
    messages.append({"role": "user", "content": prompt})
    return messages


def verdict_text(judge_response: Any) -> str | None:
    """The judge's final text: the last output item must be a message whose last part is ``output_text``."""
    return final_output_text(judge_response)


def parse_verdict(judge_response: Any, equal_label: str, not_equal_label: str) -> tuple[bool, str | None]:
    """``(is_equal, verdict_label)``. Equal iff the equal label occurs and the not-equal label does not occur
    before it; the label is the one that decided, or None when neither occurs (or the output is malformed)."""
    text = verdict_text(judge_response)
    if text is None:
        return False, None
    equal_at = text.find(equal_label)
    not_equal_at = text.find(not_equal_label)
    if equal_at >= 0 and (not_equal_at < 0 or equal_at < not_equal_at):
        return True, equal_label
    if not_equal_at >= 0:
        return False, not_equal_label
    return False, None


# ------------------------------------------------------------------------------------------------ the flow


@dataclass(frozen=True)
class JudgeOutcome:
    is_equal: bool
    evaluation: Any  # what the rollout records for this call (the judge request, response and verdict label)


JudgeFn = Callable[[str, str, str], Awaitable[JudgeOutcome]]


@dataclass(frozen=True)
class EquivalenceSettings:
    check_twice_swap: bool = False
    reward_if_swap_fails: float = 0.0
    use_per_record_regex: bool = True
    extraction_length_threshold: int = 120
    check_full_generation_on_fail: bool = True
    reward_if_full_generation_succeeds: float = 0.5
    response_extract_regex: str | None = None


@dataclass
class EquivalenceResult:
    reward: float
    evaluations: list[Any] = field(default_factory=list)


async def grade_equivalence(
    question: str,
    expected: str,
    full_text: str,
    record_regex: str | None,
    settings: EquivalenceSettings,
    judge: JudgeFn,
) -> EquivalenceResult:
    """Judge the answer against the expected one; see the README for the rule."""
    per_record_regex = record_regex if settings.use_per_record_regex and record_regex else None
    too_long = len(expected) > settings.extraction_length_threshold
    regex = None if too_long else (per_record_regex or settings.response_extract_regex)
    # Long expected answers are compared whole: extraction would cut them, and a rescue pass would repeat call 1.
    length_skip = per_record_regex is not None and too_long
    generated = extract_generated(full_text, regex)

    first = await judge(question, expected, generated)
    result = EquivalenceResult(reward=0.0, evaluations=[first.evaluation])
    if not first.is_equal:
        if per_record_regex is not None and not length_skip and settings.check_full_generation_on_fail:
            rescue = await judge(question, expected, full_text)
            result.evaluations.append(rescue.evaluation)
            if rescue.is_equal:
                result.reward = settings.reward_if_full_generation_succeeds
        return result
    if not settings.check_twice_swap or length_skip:
        result.reward = 1.0
        return result
    swapped = await judge(question, generated, expected)
    result.evaluations.append(swapped.evaluation)
    result.reward = 1.0 if swapped.is_equal else settings.reward_if_swap_fails
    return result
