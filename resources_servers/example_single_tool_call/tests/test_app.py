"""example_single_tool_call over HTTP: the weather tool, both reward modes, and the shipped data."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from nemo_gym.base_resources_server import BaseRunRequest
from nemo_gym.testing.responses import assistant_message, function_call, verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.example_single_tool_call.app import (
    SimpleWeatherResourcesServer,
    SimpleWeatherResourcesServerConfig,
)
from resources_servers.example_single_tool_call.data.make_example import build_rows

FOLDER = Path(__file__).resolve().parents[1]


def make_server(**fields) -> SimpleWeatherResourcesServer:
    config = SimpleWeatherResourcesServerConfig(
        host="127.0.0.1", port=0, entrypoint="app.py", name="example_single_tool_call", **fields
    )
    return SimpleWeatherResourcesServer(config=config, server_client=make_server_client())


@pytest.fixture(params=[False, True], ids=["always_one", "require_tool_call"])
def client(request) -> Iterator[httpx.Client]:
    server = make_server(require_tool_call=request.param)
    with serve_app(server.setup_webserver()) as url, httpx.Client(base_url=url, timeout=10) as http:
        http.require_tool_call = request.param
        yield http


def verify_body(output: list[dict]) -> dict:
    return verify_request(output, input="weather in Oslo?")


CALL = function_call("get_weather", {"city": "Oslo"}, "c1")
ANSWER = assistant_message("Bring a coat.")


def test_get_weather_describes_the_city(client: httpx.Client) -> None:
    response = client.post("/get_weather", json={"city": "Oslo"})
    assert response.status_code == 200
    assert response.json() == {"city": "Oslo", "weather_description": "The weather in Oslo is cold."}


def test_get_weather_without_a_city_is_a_422(client: httpx.Client) -> None:
    assert client.post("/get_weather", json={}).status_code == 422


def test_verify_rewards_a_rollout_that_called_the_tool(client: httpx.Client) -> None:
    result = client.post("/verify", json=verify_body([CALL, ANSWER])).json()
    assert result["reward"] == 1.0
    assert result["response"]["output"][0]["name"] == "get_weather"
    assert result["responses_create_params"]["input"] == "weather in Oslo?"


@pytest.mark.parametrize("output", [[ANSWER], [dict(CALL, name="get_time"), ANSWER]], ids=["no_call", "other_tool"])
def test_verify_without_a_weather_call_depends_on_the_mode(client: httpx.Client, output: list[dict]) -> None:
    result = client.post("/verify", json=verify_body(output)).json()
    assert result["reward"] == (0.0 if client.require_tool_call else 1.0)
    assert set(result) == {"responses_create_params", "response", "reward"}


def test_example_data_is_what_the_script_generates() -> None:
    lines = (FOLDER / "data" / "example.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == build_rows()
    assert len(lines) == 5


def test_example_rows_are_valid_run_requests_using_the_served_tool() -> None:
    for row in build_rows():
        request = BaseRunRequest.model_validate(row)
        assert [tool["name"] for tool in request.responses_create_params.tools] == ["get_weather"]


def test_config_wires_the_agent_to_this_server() -> None:
    config = yaml.safe_load((FOLDER / "configs" / "example_single_tool_call.yaml").read_text())
    agent = config["example_single_tool_call_simple_agent"]["responses_api_agents"]["simple_agent"]
    assert agent["resources_server"]["name"] in config
    assert agent["model_server"]["name"] == "policy_model"
    assert (FOLDER.parents[1] / agent["datasets"][0]["jsonl_fpath"]).is_file()
    server = config["example_single_tool_call"]["resources_servers"]["example_single_tool_call"]
    assert server["domain"] == "agent"


@pytest.fixture
def strict_client() -> Iterator[httpx.Client]:
    server = make_server(require_expected_cities=True)
    with serve_app(server.setup_webserver()) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def city_call(city: str, call_id: str = "c1") -> dict:
    return function_call("get_weather", {"city": city}, call_id)


@pytest.mark.parametrize(
    ("output", "expected", "reward"),
    [
        ([city_call("Oslo"), ANSWER], ["Oslo"], 1.0),
        ([city_call(" oslo, Norway "), ANSWER], ["Oslo"], 1.0),
        ([city_call("Lisbon"), ANSWER], ["Oslo"], 0.0),
        ([ANSWER], ["Oslo"], 0.0),
        ([city_call("Tokyo"), city_call("Seoul", "c2"), ANSWER], ["Tokyo", "Seoul"], 1.0),
        ([city_call("Tokyo"), ANSWER], ["Tokyo", "Seoul"], 0.0),
        ([city_call("Oslo"), city_call("Lisbon", "c2"), ANSWER], ["Oslo"], 0.0),
        ([dict(city_call("Oslo"), arguments="{not json"), ANSWER], ["Oslo"], 0.0),
    ],
    ids=["right", "case_and_country", "wrong_city", "no_call", "both", "one_of_two", "extra_city", "bad_json"],
)
def test_strict_reward_checks_the_cities_the_user_asked_about(
    strict_client: httpx.Client, output: list[dict], expected: list[str], reward: float
) -> None:
    body = {**verify_body(output), "expected_cities": expected}
    result = strict_client.post("/verify", json=body)
    assert result.status_code == 200, result.text
    assert result.json()["reward"] == reward


def test_strict_reward_without_expected_cities_is_a_clear_422(strict_client: httpx.Client) -> None:
    result = strict_client.post("/verify", json=verify_body([CALL, ANSWER]))
    assert result.status_code == 422
    assert "expected_cities" in result.text


def test_every_example_row_names_the_cities_it_asks_about() -> None:
    for row in build_rows():
        question = row["responses_create_params"]["input"][-1]["content"].casefold()
        assert row["expected_cities"] and all(city.casefold() in question for city in row["expected_cities"])
