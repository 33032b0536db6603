"""Write ``example.jsonl``: five multiple-choice questions written for this project.

Run from the repository root: ``python resources_servers/mcqa/data/make_example.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("example.jsonl")

BOXED_INSTRUCTION = (
    "You should output your final response letter inside \\boxed{} and nothing else. For example, \\boxed{A}.\n\n"
)
COLON_INSTRUCTION = "Think step by step, then finish with a line of the form 'Answer: <letter>'.\n\n"
PARENS_INSTRUCTION = "Think it through, then give the letter of your choice in double parentheses, e.g. ((A)).\n\n"
PARENS_REGEX = r"\(\((.*?)\)\)"

# (question, options, gold letter, grading mode, output regex or None)
QUESTIONS: list[tuple[str, list[str], str, str, str | None]] = [
    (
        "Which gas makes up the largest share of Earth's atmosphere by volume?",
        ["Oxygen", "Nitrogen", "Argon", "Carbon dioxide"],
        "B",
        "strict_single_letter_boxed",
        None,
    ),
    (
        "A train travels 180 km in 2 hours at constant speed. How far does it travel in 5 hours?",
        ["360 km", "400 km", "450 km", "500 km", "540 km"],
        "C",
        "strict_single_letter_boxed",
        None,
    ),
    (
        "Which data structure serves items in first-in, first-out order?",
        ["Stack", "Queue", "Binary heap", "Hash map"],
        "B",
        "lenient_boxed",
        None,
    ),
    (
        "What is the chemical symbol of sodium?",
        ["So", "Sd", "Na", "Sn"],
        "C",
        "lenient_answer_colon",
        None,
    ),
    (
        "Which planet has the shortest year?",
        ["Mercury", "Venus", "Earth", "Mars", "Neptune", "Saturn"],
        "A",
        "strict_single_letter_boxed",
        PARENS_REGEX,
    ),
]


def build_rows() -> list[dict[str, Any]]:
    rows = []
    for index, (question, option_texts, gold, grading_mode, output_regex) in enumerate(QUESTIONS):
        letters = [chr(ord("A") + position) for position in range(len(option_texts))]
        if output_regex:
            instruction = PARENS_INSTRUCTION
        elif grading_mode == "lenient_answer_colon":
            instruction = COLON_INSTRUCTION
        else:
            instruction = BOXED_INSTRUCTION
        listing = "\n".join(f"{letter}: {text}" for letter, text in zip(letters, option_texts, strict=True))
        row: dict[str, Any] = {
            "responses_create_params": {"input": [{"role": "user", "content": f"{instruction}{question}\n{listing}"}]},
            "uuid": f"mcqa-example-{index}",
            "options": [{letter: text} for letter, text in zip(letters, option_texts, strict=True)],
            "expected_answer": gold,
            "grading_mode": grading_mode,
        }
        if output_regex:
            row["template_metadata"] = {"template_id": "double_parentheses", "output_regex": output_regex}
        rows.append(row)
    return rows


def main() -> None:
    OUTPUT.write_text("".join(json.dumps(row) + "\n" for row in build_rows()))


if __name__ == "__main__":
    main()
