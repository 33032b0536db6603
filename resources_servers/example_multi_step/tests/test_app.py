"""example_multi_step over HTTP: the two tools, the ordered-match reward and its diagnostics, and the data."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from nemo_gym.base_resources_server import BaseRunRequest
from nemo_gym.testing.responses import function_call, verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.example_multi_step.app import (
    ExampleMultiStepResourcesServer,
    ExampleMultiStepResourcesServerConfig,
    grade,
    synonym_value,
)
from resources_servers.example_multi_step.data.make_example import build_rows

FOLDER = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    config = ExampleMultiStepResourcesServerConfig(
        host="127.0.0.1", port=0, entrypoint="app.py", name="example_multi_step_resources_server"
    )
    server = ExampleMultiStepResourcesServer(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def submit(values, call_id: str = "s") -> dict:
    arguments = values if isinstance(values, str) else {"synonym_values": values}
    return function_call("extract_synonym_values", arguments, call_id)


def verify_body(output: list[dict], expected: list[int], **fields) -> dict:
    return (
        verify_request(
            output,
            input="which synonyms?",
            id=3,
            expected_synonyms=["Blazing", "Warm"],
            expected_synonym_values=expected,
            minefield_label="Hot",
            minefield_label_value=299,
        )
        | fields
    )


def test_synonym_value_is_the_sum_of_code_points(client: httpx.Client) -> None:
    assert synonym_value("Blazing") == 711 and synonym_value("Warm") == 407 and synonym_value("Hot") == 299
    assert client.post("/get_synonym_value", json={"synonym": "Warm"}).json() == {"synonym_value": 407}


def test_extract_synonym_values_acknowledges(client: httpx.Client) -> None:
    assert client.post("/extract_synonym_values", json={"synonym_values": [1, 2]}).json() == {"success": True}
    assert client.post("/extract_synonym_values", json={"synonym_values": "x"}).status_code == 422


def test_exact_ordered_submission_earns_one(client: httpx.Client) -> None:
    result = client.post("/verify", json=verify_body([submit([711, 407])], [711, 407])).json()
    assert result["reward"] == 1.0 and result["accuracy"] is True and result["set_overlap"] == 1.0
    assert result["parsed_synonym_values"] == [711, 407]
    assert result["order_instruction_following_failure"] is False
    assert result["original_term_minefield_hit"] is False


def test_wrong_order_is_zero_and_flagged(client: httpx.Client) -> None:
    result = client.post("/verify", json=verify_body([submit([407, 711])], [711, 407])).json()
    assert result["reward"] == 0.0 and result["order_instruction_following_failure"] is True


def test_only_the_last_submission_counts(client: httpx.Client) -> None:
    output = [submit([711, 407], "a"), submit([711], "b")]
    result = client.post("/verify", json=verify_body(output, [711, 407])).json()
    assert result["reward"] == 0.0 and result["set_overlap"] == 0.5 and result["parsed_synonym_values"] == [711]


def test_no_submission_or_malformed_last_one_is_an_empty_list(client: httpx.Client) -> None:
    for output in ([], [submit([711, 407], "a"), submit("{not json", "b")]):
        result = client.post("/verify", json=verify_body(output, [711, 407])).json()
        assert result["parsed_synonym_values"] == [] and result["reward"] == 0.0 and result["set_overlap"] == 0.0


def test_minefield_value_in_the_submission_is_reported(client: httpx.Client) -> None:
    result = client.post("/verify", json=verify_body([submit([711, 299])], [711, 407])).json()
    assert result["original_term_minefield_hit"] is True


def test_empty_expected_list_does_not_divide_by_zero(client: httpx.Client) -> None:
    result = client.post("/verify", json=verify_body([], [])).json()
    assert result["reward"] == 1.0 and result["set_overlap"] == 1.0
    assert grade([5], [], None, None)["set_overlap"] == 0.0


def test_verify_output_keys_match_the_reference(client: httpx.Client) -> None:
    result = client.post("/verify", json=verify_body([submit([711, 407])], [711, 407])).json()
    assert list(result) == [
        "responses_create_params",
        "response",
        "reward",
        "parsed_synonym_values",
        "accuracy",
        "set_overlap",
        "original_term_minefield_hit",
        "order_instruction_following_failure",
    ]


def test_verify_requires_the_expected_values(client: httpx.Client) -> None:
    body = verify_body([], [])
    del body["expected_synonym_values"]
    assert client.post("/verify", json=body).status_code == 422


def test_example_data_is_what_the_script_generates() -> None:
    lines = (FOLDER / "data" / "example.jsonl").read_text().splitlines()
    assert len(lines) == 5 and [json.loads(line) for line in lines] == build_rows()


def test_example_expectations_follow_the_listing_order() -> None:
    for row in build_rows():
        BaseRunRequest.model_validate(row)
        system = row["responses_create_params"]["input"][0]["content"]
        positions = [system.index(f"synonym '{synonym}'.") for synonym in row["expected_synonyms"]]
        assert positions == sorted(positions) and len(positions) == 5
        assert row["expected_synonym_values"] == [synonym_value(s) for s in row["expected_synonyms"]]
        assert f"'{row['minefield_label']}' has a synonym '{row['expected_synonyms'][0]}'" in system


def test_config_wires_the_agent_to_this_server() -> None:
    config = yaml.safe_load((FOLDER / "configs" / "example_multi_step.yaml").read_text())
    agent = config["example_multi_step_simple_agent"]["responses_api_agents"]["simple_agent"]
    assert agent["resources_server"]["name"] == "example_multi_step_resources_server"
    assert (FOLDER.parents[1] / agent["datasets"][0]["jsonl_fpath"]).is_file()
