"""Write ``example.jsonl``: five short-answer science questions written for this project.

Run from the repository root: ``python resources_servers/equivalence_llm_judge/data/make_example.py``.
Two rows carry ``template_metadata.output_regex``, so the judge sees only the extracted answer for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("example.jsonl")

BOXED_PROMPT = (
    "Answer the following question. Make sure to put the final answer (and only the final answer) inside "
    "\\boxed{{}}.\n\n{question}"
)
PARENS_PROMPT = "{question}\n\nThink briefly, then write your final answer inside double parentheses, like ((answer))."
PARENS_REGEX = r"\(\((.*?)\)\)"

# (question, expected answer, uses the double-parentheses template)
QUESTIONS: list[tuple[str, str, bool]] = [
    ("Which organelle of a plant cell carries out photosynthesis?", "chloroplast", False),
    ("What is the SI unit of electrical resistance?", "ohm", False),
    ("How many chromosomes does a typical human body cell contain?", "46", False),
    ("What is the boiling point of pure water at sea level, in degrees Celsius?", "100", True),
    ("Which force keeps the planets in orbit around the Sun?", "gravity", True),
]


def build_rows() -> list[dict[str, Any]]:
    rows = []
    for index, (question, expected, parens) in enumerate(QUESTIONS):
        prompt = (PARENS_PROMPT if parens else BOXED_PROMPT).format(question=question)
        row: dict[str, Any] = {
            "responses_create_params": {"input": [{"role": "user", "content": prompt}]},
            "uuid": f"equivalence-example-{index}",
            "question": question,
            "expected_answer": expected,
        }
        if parens:
            row["template_metadata"] = {"template_id": "double_parentheses", "output_regex": PARENS_REGEX}
        rows.append(row)
    return rows


def main() -> None:
    OUTPUT.write_text("".join(json.dumps(row) + "\n" for row in build_rows()))


if __name__ == "__main__":
    main()
