"""Multiple-choice answer extraction and grading.

The predicted letter comes from, in priority order, the row's ``template_metadata.output_regex`` and then the
row's ``grading_mode``; the reward is 1.0 iff it equals the gold letter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from nemo_gym.openai_utils import all_assistant_text

logger = logging.getLogger(__name__)

GradingMode = Literal["strict_single_letter_boxed", "lenient_boxed", "lenient_answer_colon"]
DEFAULT_GRADING_MODE: GradingMode = "strict_single_letter_boxed"

# \boxed{ <non-letters> <one uppercase letter> <non-letters> }, braces excluded so it stays inside one box.
_STRICT_BOXED_RE = re.compile(r"\\boxed\{[^A-Za-z{}]*([A-Z])[^A-Za-z{}]*\}")
_ANSWER_COLON_RE = re.compile(r"answer\s*:\s*([^\n]*)", flags=re.IGNORECASE)
_TEXT_WRAPPER_RE = re.compile(r"\\text\{([^{}]*)\}")


def assistant_text(response: Any) -> str:
    """Every text part (``output_text`` or ``text``) of every assistant message of the output, joined and stripped."""
    return all_assistant_text(response, part_types=("output_text", "text"))


def option_letters_and_texts(options: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, str]]:
    """``[("A", "text"), ...]`` from ``[{"A": "text"}, ...]``; options whose first key is not a letter are skipped."""
    pairs: list[tuple[str, str]] = []
    for option in options or []:
        if not option:
            continue
        key = next(iter(option))
        if isinstance(key, str) and len(key) == 1 and key.isalpha():
            pairs.append((key.upper(), str(option[key])))
    return pairs


def normalize(text: str) -> str:
    """Unwrap ``\\text{...}`` (nested too), lowercase, collapse whitespace."""
    previous = None
    while previous != text:
        previous, text = text, _TEXT_WRAPPER_RE.sub(r"\1", text)
    return " ".join(text.lower().split())


def first_boxed_content(text: str) -> str | None:
    """The content of the first ``\\boxed{...}``, braces balanced; None when there is none or it is unclosed."""
    start = text.find("\\boxed{")
    if start < 0:
        return None
    depth = 0
    for index in range(start + len("\\boxed"), len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + len("\\boxed{") : index]
    return None


def _letter_for_option_text(candidate: str, options: list[tuple[str, str]]) -> str | None:
    wanted = normalize(candidate)
    for letter, option_text in options:
        if wanted and normalize(option_text) == wanted:
            return letter
    return None


def extract_with_output_regex(text: str, output_regex: str, options: list[tuple[str, str]]) -> str | None:
    """Last case-insensitive match of the row's regex: a single letter is trusted as is (even one that is not
    an option: the template's regex is authoritative); anything else must equal an option text."""
    try:
        matches = re.findall(output_regex, text, flags=re.IGNORECASE)
    except re.error as error:
        logger.warning("invalid template_metadata.output_regex %r: %s", output_regex, error)
        return None
    if not matches:
        return None
    match = matches[-1]
    if isinstance(match, tuple):  # several groups: the first non-empty one
        match = next((group for group in match if group), "")
    candidate = match.strip().upper()
    if len(candidate) == 1 and candidate.isalpha():
        return candidate
    return _letter_for_option_text(match, options)


def extract_strict_boxed(text: str, allowed: set[str]) -> str | None:
    match = _STRICT_BOXED_RE.search(text)
    if match is None or match.group(1) not in allowed:
        return None
    return match.group(1)


def extract_lenient_boxed(text: str, options: list[tuple[str, str]]) -> str | None:
    strict = extract_strict_boxed(text, {letter for letter, _ in options})
    if strict is not None:
        return strict
    content = first_boxed_content(text)
    if content is None:
        return None
    boxed = normalize(content)
    hits = [letter for letter, option_text in options if normalize(option_text) and normalize(option_text) in boxed]
    return hits[0] if len(hits) == 1 else None


def extract_answer_colon(text: str, options: list[tuple[str, str]]) -> str | None:
    match = _ANSWER_COLON_RE.search(text)
    if match is None:
        return None
    candidate = match.group(1).strip()
    if len(candidate) == 1 and candidate.upper() in {letter for letter, _ in options}:
        return candidate.upper()
    return _letter_for_option_text(candidate, options)


def extract_prediction(
    text: str,
    options: Sequence[Mapping[str, Any]] | None,
    grading_mode: GradingMode = DEFAULT_GRADING_MODE,
    output_regex: str | None = None,
) -> str | None:
    pairs = option_letters_and_texts(options)
    if output_regex:
        predicted = extract_with_output_regex(text, output_regex, pairs)
        if predicted is not None:
            return predicted
    if grading_mode == "lenient_boxed":
        return extract_lenient_boxed(text, pairs)
    if grading_mode == "lenient_answer_colon":
        return extract_answer_colon(text, pairs)
    return extract_strict_boxed(text, {letter for letter, _ in pairs})


def reward_for(predicted: str | None, gold: str) -> float:
    return 1.0 if predicted and gold and predicted == gold else 0.0
