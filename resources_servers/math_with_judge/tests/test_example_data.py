"""data/example.jsonl: five rows that validate as run requests and whose answers the checker accepts."""

import json
from pathlib import Path

from resources_servers.math_with_judge.app import LibraryJudgeMathRunRequest
from resources_servers.math_with_judge.math_check import check_answer

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example.jsonl"


def test_example_rows_validate_and_their_boxed_answers_score_one() -> None:
    rows = [json.loads(line) for line in EXAMPLE.read_text().splitlines()]
    assert len(rows) == 5
    for row in rows:
        request = LibraryJudgeMathRunRequest.model_validate(row)
        assert request.question in request.responses_create_params.input[0].content
        assert check_answer(request.expected_answer, f"\\boxed{{{request.expected_answer}}}")[0] == 1.0
