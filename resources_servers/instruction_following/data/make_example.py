"""Write ``example.jsonl``: five instruction-following tasks written for this project.

Run from the repository root: ``python resources_servers/instruction_following/data/make_example.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("example.jsonl")

# (task, [(instruction_id, kwargs or None, how the instruction is worded in the prompt)], grading_mode)
TASKS: list[tuple[str, list[tuple[str, dict[str, Any] | None, str]], str]] = [
    (
        "Write a short note inviting your neighbours to a street clean-up on Saturday morning.",
        [
            ("punctuation:no_comma", None, "Do not use any commas."),
            (
                "length_constraints:number_words",
                {"num_words": 80, "relation": "less than"},
                "Use fewer than 80 words.",
            ),
            (
                "detectable_content:postscript",
                {"postscript_marker": "P.S."},
                "End with a postscript starting with P.S.",
            ),
        ],
        "binary",
    ),
    (
        "Explain why leaves change colour in autumn.",
        [
            (
                "length_constraints:number_paragraphs",
                {"num_paragraphs": 3},
                "Write exactly 3 paragraphs separated by the markdown divider ***.",
            ),
            ("keywords:existence", {"keywords": ["chlorophyll", "sunlight"]}, "Mention chlorophyll and sunlight."),
            ("change_case:english_lowercase", None, "Write everything in lowercase English letters."),
        ],
        "binary",
    ),
    (
        "Describe a perfect picnic lunch for two people.",
        [
            ("detectable_format:title", None, "Give your answer a title wrapped in double angular brackets."),
            ("detectable_format:number_bullet_lists", {"num_bullets": 4}, "Use exactly 4 markdown bullet points."),
            (
                "keywords:forbidden_words",
                {"forbidden_words": ["sandwich", "basket"]},
                "Do not say sandwich or basket.",
            ),
        ],
        "fraction",
    ),
    (
        "Summarise the rules of noughts and crosses (tic-tac-toe) as a JSON object.",
        [
            ("detectable_format:json_format", None, "Your entire output must be valid JSON."),
            (
                "keywords:letter_frequency",
                {"letter": "x", "let_frequency": 2, "let_relation": "at least"},
                "The letter x must appear at least 2 times.",
            ),
        ],
        "binary",
    ),
    (
        "Give advice to someone learning to ride a bicycle.",
        [
            ("first_word:first_word_answer", {"first_word": "balance"}, "Start your answer with the word balance."),
            (
                "length_constraints:number_sentences",
                {"num_sentences": 4, "relation": "at least"},
                "Write at least 4 sentences.",
            ),
            ("startend:end_checker", {"end_phrase": "Happy riding!"}, "Finish with the exact phrase: Happy riding!"),
            ("count:lowercase_counting", {"N": 60}, "Use at most 60 lowercase words."),
        ],
        "binary",
    ),
]


def build_rows() -> list[dict[str, Any]]:
    rows = []
    for index, (task, instructions, grading_mode) in enumerate(TASKS):
        prompt = " ".join([task, *(wording for _, _, wording in instructions)])
        rows.append(
            {
                "responses_create_params": {"input": [{"role": "user", "content": prompt}]},
                "id": index,
                "prompt": prompt,
                "instruction_id_list": [instruction_id for instruction_id, _, _ in instructions],
                "kwargs": [kwargs for _, kwargs, _ in instructions],
                "grading_mode": grading_mode,
            }
        )
    return rows


def main() -> None:
    OUTPUT.write_text("".join(json.dumps(row) + "\n" for row in build_rows()))


if __name__ == "__main__":
    main()
