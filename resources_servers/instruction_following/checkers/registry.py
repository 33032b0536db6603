"""The instruction registry: instruction id -> checker function.

A checker is ``checker(text, **kwargs) -> bool``; its keyword parameters are the kwargs names that the
datasets use for that instruction id, so a missing required kwarg or an unexpected one raises TypeError,
which grading counts as "not followed" (the reference behaves the same way for unexpected names).
"""

from __future__ import annotations

from collections.abc import Callable

Checker = Callable[..., bool]

INSTRUCTION_DICT: dict[str, Checker] = {}


def register(instruction_id: str) -> Callable[[Checker], Checker]:
    def decorate(checker: Checker) -> Checker:
        if instruction_id in INSTRUCTION_DICT:
            raise ValueError(f"instruction id {instruction_id!r} is registered twice")
        INSTRUCTION_DICT[instruction_id] = checker
        return checker

    return decorate


class UnknownInstructionError(KeyError):
    """The instruction id is not in the registry."""


def get_checker(instruction_id: str) -> Checker:
    try:
        return INSTRUCTION_DICT[instruction_id]
    except KeyError:
        raise UnknownInstructionError(f"unknown instruction id {instruction_id!r}") from None
