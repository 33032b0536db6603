"""The instruction_following server over real HTTP."""

import json
from pathlib import Path

import httpx
import pytest

from nemo_gym.testing.responses import assistant_message, make_response, user_message, verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.instruction_following.app import (
    InstructionFollowingResourcesServer,
    InstructionFollowingResourcesServerConfig,
)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def base_url():
    config = InstructionFollowingResourcesServerConfig(
        host="127.0.0.1", port=0, entrypoint="app.py", name="instruction_following", domain="instruction_following"
    )
    server = InstructionFollowingResourcesServer(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield url


def _response(*texts: str) -> dict:
    return make_response([assistant_message(text, id=f"msg_{index}") for index, text in enumerate(texts)])


def _verify_body(text: str, **fields) -> dict:
    body = verify_request(
        text,
        input=[user_message("Describe tea without commas.")],
        id=7,
        prompt="Describe tea without commas.",
        instruction_id_list=["punctuation:no_comma", "keywords:existence"],
        kwargs=[None, {"keywords": ["leaf"], "relation": None}],
    )
    body.update(fields)
    return body


def test_verify_rewards_answer_that_follows_every_instruction(base_url):
    reply = httpx.post(f"{base_url}/verify", json=_verify_body("Tea is a leaf brewed in hot water."))
    assert reply.status_code == 200
    result = reply.json()
    assert result["reward"] == 1.0
    assert result["follow_all_instructions"] is True
    assert result["follow_instruction_list"] == [True, True]
    assert result["grading_mode"] == "binary"
    assert result["prompt"] == "Describe tea without commas."
    assert result["instruction_id_list"] == ["punctuation:no_comma", "keywords:existence"]
    assert result["kwargs"] == [None, {"keywords": ["leaf"], "relation": None}]
    assert "id" not in result
    assert result["response"]["output"][0]["content"][0]["text"] == "Tea is a leaf brewed in hot water."


def test_verify_binary_gives_zero_when_one_instruction_fails(base_url):
    result = httpx.post(f"{base_url}/verify", json=_verify_body("Tea, a leaf.")).json()
    assert result["reward"] == 0.0
    assert result["follow_instruction_list"] == [False, True]


def test_verify_fraction_gives_share_followed(base_url):
    body = _verify_body("Tea, a leaf.", grading_mode="fraction")
    assert httpx.post(f"{base_url}/verify", json=body).json()["reward"] == 0.5


def test_verify_reads_only_the_last_output_item(base_url):
    body = _verify_body("ignored")
    body["response"] = _response("Tea is a leaf.", "Tea, no leaf mentioned here.")
    result = httpx.post(f"{base_url}/verify", json=body).json()
    assert result["follow_instruction_list"] == [False, True]


def test_verify_rejects_unknown_grading_mode(base_url):
    reply = httpx.post(f"{base_url}/verify", json=_verify_body("Tea.", grading_mode="partial"))
    assert reply.status_code == 422


def test_seed_session_returns_empty_object(base_url):
    assert httpx.post(f"{base_url}/seed_session", json={}).json() == {}


def test_example_rows_are_valid_run_requests():
    from resources_servers.instruction_following.app import InstructionFollowingRunRequest

    lines = (DATA_DIR / "example.jsonl").read_text().splitlines()
    assert len(lines) == 5
    for line in lines:
        row = InstructionFollowingRunRequest.model_validate(json.loads(line))
        assert len(row.instruction_id_list) == len(row.kwargs)


def test_example_file_is_what_the_generator_writes():
    from resources_servers.instruction_following.data.make_example import build_rows

    lines = (DATA_DIR / "example.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == build_rows()
