"""Grading of one rollout: which instructions the response follows, and the reward."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nemo_gym.openai_utils import final_item_text
from resources_servers.instruction_following.checkers import get_checker

logger = logging.getLogger(__name__)

GradingMode = Literal["binary", "fraction"]


@dataclass(frozen=True)
class InstructionGrade:
    follow_instruction_list: list[bool]
    follow_all_instructions: bool
    reward: float


def response_text(response: Any) -> str:
    """The text of the first content part of the last output item, or "" when that item has no content.

    This is the reference's rule: a rollout that ends on a reasoning item or a function call has no answer.
    """
    return final_item_text(response)


def is_followed(instruction_id: str, kwargs: Mapping[str, Any] | None, text: str) -> bool:
    """Whether ``text`` follows one instruction. Unknown ids and checker errors count as not followed."""
    arguments = {key: value for key, value in (kwargs or {}).items() if value is not None}
    try:
        return bool(get_checker(instruction_id)(text, **arguments))
    except Exception as error:  # a malformed row must cost this instruction, not the whole verify call
        logger.warning("instruction %s with kwargs %s counts as not followed: %r", instruction_id, arguments, error)
        return False


def grade(
    text: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None],
    grading_mode: GradingMode = "binary",
) -> InstructionGrade:
    """``binary``: 1.0 iff every instruction is followed; ``fraction``: followed / total (0.0 for none)."""
    follows = [
        is_followed(instruction_id, kwargs_list[index] if index < len(kwargs_list) else None, text)
        for index, instruction_id in enumerate(instruction_id_list)
    ]
    follow_all = all(follows)
    if grading_mode == "fraction":
        reward = sum(follows) / len(follows) if follows else 0.0
    else:
        reward = 1.0 if follow_all else 0.0
    return InstructionGrade(follow_instruction_list=follows, follow_all_instructions=follow_all, reward=reward)
