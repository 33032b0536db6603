"""Write data/example.jsonl: five small programming problems whose expected outputs come from reference solutions.

Inputs are drawn from a fixed seed and every expected output is computed by the solution below, so the tests are
consistent by construction. Run: ``python resources_servers/code_gen/data/make_example.py``.
"""

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

STDIN_PROMPT = (
    "Solve the following programming problem in Python 3. Your program reads the input from standard input and "
    "writes the answer to standard output. Put the complete program in a single ```python code block at the "
    "end of your answer.\n\n{statement}"
)
CALL_PROMPT = (
    "Solve the following programming problem in Python 3. Complete the method of class `Solution` with the "
    "signature given below. Put the complete class in a single ```python code block at the end of your "
    "answer.\n\n{statement}"
)


def sum_of_evens(text: str) -> str:
    values = list(map(int, text.split()[1:]))
    return f"{sum(value for value in values if value % 2 == 0)}\n"


def reverse_words(text: str) -> str:
    return " ".join(reversed(text.split())) + "\n"


def count_primes(text: str) -> str:
    limit = int(text)
    sieve = bytearray([1]) * (limit + 1)
    sieve[: min(2, limit + 1)] = b"\x00" * min(2, limit + 1)
    for number in range(2, int(limit**0.5) + 1):
        if sieve[number]:
            sieve[number * number :: number] = bytearray(len(range(number * number, limit + 1, number)))
    return f"{sum(sieve)}\n"


def max_subarray(text: str) -> str:
    values = list(map(int, text.split()[1:]))
    best = current = values[0]
    for value in values[1:]:
        current = max(value, current + value)
        best = max(best, current)
    return f"{best}\n"


def two_sum(text: str) -> str:
    lines = text.splitlines()
    values, target = json.loads(lines[0]), json.loads(lines[1])
    seen: dict[int, int] = {}
    for index, value in enumerate(values):
        if target - value in seen:
            return json.dumps([seen[target - value], index])
        seen[value] = index
    raise ValueError("no pair")


def random_array(rng: random.Random, low: int, high: int) -> str:
    values = [rng.randint(low, high) for _ in range(rng.randint(1, 12))]
    return f"{len(values)}\n{' '.join(map(str, values))}\n"


def two_sum_case(rng: random.Random) -> str:
    values = rng.sample(range(-50, 50), rng.randint(2, 10))
    first, second = rng.sample(range(len(values)), 2)
    return f"{json.dumps(values)}\n{values[first] + values[second]}"


Problem = tuple[str, Callable[[str], str], Callable[[random.Random], str], str | None]

PROBLEMS: list[Problem] = [
    (
        "The first line holds n. The second line holds n integers. Print the sum of the even ones.",
        sum_of_evens,
        lambda rng: random_array(rng, -100, 100),
        None,
    ),
    (
        "One line of words separated by single spaces is given. Print the words in reverse order.",
        reverse_words,
        lambda rng: (
            " ".join(rng.choice(["gym", "reward", "agent", "model", "tool"]) for _ in range(rng.randint(1, 8))) + "\n"
        ),
        None,
    ),
    (
        "Given an integer n (0 <= n <= 10^6), print how many prime numbers are less than or equal to n.",
        count_primes,
        lambda rng: f"{rng.choice([0, 1, 2, rng.randint(3, 100), rng.randint(1000, 1_000_000)])}\n",
        None,
    ),
    (
        "The first line holds n. The second line holds n integers. Print the largest sum of a non-empty "
        "contiguous subarray.",
        max_subarray,
        lambda rng: random_array(rng, -20, 20),
        None,
    ),
    (
        "Given a list of distinct integers `nums` and an integer `target`, return the indices [i, j] (i < j) of the "
        "two numbers that add up to `target`; at least one such pair exists. If several pairs exist, return the one "
        "whose second index j is smallest.\n\n```python\nclass Solution:\n    def twoSum(self, nums: list[int], "
        "target: int) -> list[int]:\n```",
        two_sum,
        two_sum_case,
        "twoSum",
    ),
]


def main() -> None:
    rng = random.Random(20260127)
    path = Path(__file__).with_name("example.jsonl")
    with path.open("w") as handle:
        for statement, solve, make_input, fn_name in PROBLEMS:
            inputs = [make_input(rng) for _ in range(4)]
            prompt = (CALL_PROMPT if fn_name else STDIN_PROMPT).format(statement=statement)
            row = {
                "responses_create_params": {"input": [{"role": "user", "content": prompt}]},
                "verifier_metadata": {
                    "unit_tests": {"inputs": inputs, "outputs": [solve(text) for text in inputs], "fn_name": fn_name}
                },
                "hash_id": hashlib.sha256(statement.encode()).hexdigest()[:16],
                "dataset": "code_gen_example",
                "source": "handwritten",
            }
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
