"""data/example.jsonl: five rows that validate, and independently written solutions that pass their tests."""

import json
from pathlib import Path

import pytest

from resources_servers.code_gen.app import CompCodingRunRequest
from resources_servers.code_gen.unit_tests import PASSED, check_correctness

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example.jsonl"

SOLUTIONS = [
    "n = int(input())\nprint(sum(x for x in map(int, input().split()) if x % 2 == 0))\n",
    "print(*input().split()[::-1])\n",
    "n = int(input())\nflags = [True] * (n + 1)\ncount = 0\nfor i in range(2, n + 1):\n"
    "    if flags[i]:\n        count += 1\n        for j in range(i * i, n + 1, i):\n            flags[j] = False\n"
    "print(count)\n",
    "input()\nbest = None\nrun = 0\nfor x in map(int, input().split()):\n    run = max(x, run + x)\n"
    "    best = run if best is None else max(best, run)\nprint(best)\n",
    "class Solution:\n    def twoSum(self, nums, target):\n        for j in range(len(nums)):\n"
    "            for i in range(j):\n"
    "                if nums[i] + nums[j] == target:\n                    return [i, j]\n",
]


def load_rows() -> list[dict]:
    return [json.loads(line) for line in EXAMPLE.read_text().splitlines()]


def test_there_are_five_rows_that_validate() -> None:
    rows = load_rows()
    assert len(rows) == 5
    for row in rows:
        CompCodingRunRequest.model_validate(row)


@pytest.mark.parametrize("index", range(5))
def test_an_independent_solution_passes_every_test(index: int) -> None:
    unit_tests = load_rows()[index]["verifier_metadata"]["unit_tests"]
    results, metadata = check_correctness(unit_tests, SOLUTIONS[index], timeout_s=10)
    assert results == [PASSED] * len(unit_tests["inputs"]), metadata
