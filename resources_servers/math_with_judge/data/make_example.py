"""Write data/example.jsonl: five small math problems, each answer worked out here rather than typed in.

Run from anywhere: ``python resources_servers/math_with_judge/data/make_example.py``.
"""

import json
from fractions import Fraction
from math import comb, gcd
from pathlib import Path

PROMPT = "Solve the following math problem. Make sure to put the answer (and only answer) inside \\boxed{{}}.\n\n{}"


def latex(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def problems() -> list[tuple[str, str]]:
    rows = []
    # Probability with dice.
    favourable = sum(1 for a in range(1, 7) for b in range(1, 7) if a + b == 8)
    rows.append(
        (
            "Two fair six-sided dice are rolled. What is the probability that the sum is 8?",
            latex(Fraction(favourable, 36)),
        )
    )
    # Counting.
    rows.append(
        ("In how many ways can a committee of 3 people be chosen from a group of 10 people?", str(comb(10, 3)))
    )
    # A linear equation 7x - 5 = 3x + 11.
    rows.append(("Solve for $x$: $7x - 5 = 3x + 11$.", latex(Fraction(11 + 5, 7 - 3))))
    # Sum of an arithmetic series.
    rows.append(("What is the sum of all odd integers from 1 to 99, inclusive?", str(sum(range(1, 100, 2)))))
    # Number theory.
    rows.append(("What is the least common multiple of 84 and 90?", str(84 * 90 // gcd(84, 90))))
    return rows


def main() -> None:
    path = Path(__file__).with_name("example.jsonl")
    with path.open("w") as handle:
        for question, answer in problems():
            row = {
                "responses_create_params": {"input": [{"role": "user", "content": PROMPT.format(question)}]},
                "question": question,
                "expected_answer": answer,
            }
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
