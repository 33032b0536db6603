"""The mcqa server over real HTTP."""

import json
from pathlib import Path

import httpx
import pytest

from nemo_gym.testing.responses import assistant_message, user_message, verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.mcqa.app import MCQAResourcesServer, MCQAResourcesServerConfig, MCQARunRequest

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
OPTIONS = [{"A": "Oxygen"}, {"B": "Nitrogen"}, {"C": "Argon"}, {"D": "Carbon dioxide"}]


@pytest.fixture(scope="module")
def base_url():
    config = MCQAResourcesServerConfig(host="127.0.0.1", port=0, entrypoint="app.py", name="mcqa", domain="knowledge")
    server = MCQAResourcesServer(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield url


def _body(*texts: str, **fields) -> dict:
    body = verify_request(
        [assistant_message(text, id=f"msg_{index}") for index, text in enumerate(texts)],
        input=[user_message("Which gas? A: Oxygen ...")],
        uuid="q1",
        options=OPTIONS,
        expected_answer=" b ",
        metadata={"source": "test"},
    )
    body.update(fields)
    return body


def test_correct_boxed_letter_gets_reward_one(base_url):
    result = httpx.post(f"{base_url}/verify", json=_body(r"It is nitrogen, so \boxed{B}.")).json()
    assert result["reward"] == 1.0
    assert result["expected_answer"] == "B"
    assert result["extracted_answer"] == "B"
    assert "options" not in result and "uuid" not in result and "metadata" not in result


def test_wrong_letter_gets_reward_zero(base_url):
    result = httpx.post(f"{base_url}/verify", json=_body(r"\boxed{A}")).json()
    assert (result["reward"], result["extracted_answer"]) == (0.0, "A")


def test_missing_answer_reports_null_extraction(base_url):
    result = httpx.post(f"{base_url}/verify", json=_body("I am not sure.")).json()
    assert (result["reward"], result["extracted_answer"]) == (0.0, None)


def test_text_of_every_assistant_message_is_searched(base_url):
    result = httpx.post(f"{base_url}/verify", json=_body("Thinking.", r"\boxed{B}")).json()
    assert result["reward"] == 1.0


def test_lenient_answer_colon_mode(base_url):
    body = _body("Nitrogen is 78%.\nAnswer: nitrogen", grading_mode="lenient_answer_colon")
    assert httpx.post(f"{base_url}/verify", json=body).json()["reward"] == 1.0


def test_template_output_regex_is_used_first(base_url):
    body = _body(r"\boxed{A} ... final ((b))", template_metadata={"output_regex": r"\(\((.*?)\)\)", "weight": 1})
    result = httpx.post(f"{base_url}/verify", json=body).json()
    assert (result["reward"], result["extracted_answer"]) == (1.0, "B")


def test_missing_expected_answer_gives_zero(base_url):
    body = _body(r"\boxed{B}")
    del body["expected_answer"]
    result = httpx.post(f"{base_url}/verify", json=body).json()
    assert (result["reward"], result["expected_answer"]) == (0.0, "")


def test_unknown_grading_mode_is_rejected(base_url):
    assert httpx.post(f"{base_url}/verify", json=_body(r"\boxed{B}", grading_mode="fuzzy")).status_code == 422


def test_example_rows_are_valid_and_match_the_generator():
    from resources_servers.mcqa.data.make_example import build_rows

    rows = [json.loads(line) for line in (DATA_DIR / "example.jsonl").read_text().splitlines()]
    assert rows == build_rows()
    assert len(rows) == 5
    for row in rows:
        MCQARunRequest.model_validate(row)
