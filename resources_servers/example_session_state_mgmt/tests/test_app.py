"""example_session_state_mgmt over HTTP: per-session counters, isolation under concurrency, and eviction."""

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from nemo_gym.base_resources_server import BaseRunRequest
from nemo_gym.testing.responses import verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.example_session_state_mgmt.app import (
    StatefulCounterResourcesServer,
    StatefulCounterResourcesServerConfig,
)
from resources_servers.example_session_state_mgmt.data.make_example import build_rows
from resources_servers.example_session_state_mgmt.session_store import CounterStore

FOLDER = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[StatefulCounterResourcesServer, str]]:
    config = StatefulCounterResourcesServerConfig(
        host="127.0.0.1", port=0, entrypoint="app.py", name="example_session_state_mgmt_resources_server"
    )
    server = StatefulCounterResourcesServer(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield server, url


@pytest.fixture
def server(served) -> StatefulCounterResourcesServer:
    served[0].store._entries.clear()
    served[0].store.clock = FakeClock()
    return served[0]


@pytest.fixture
async def http(served) -> AsyncIterator["Client"]:
    # No cookie jar: like the agent, each call carries exactly the cookies it is given.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield Client(session, served[1])


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def post(self, path: str, body: dict, cookies: dict | None = None) -> tuple[int, dict, dict]:
        async with self.session.post(self.url + path, json=body, cookies=cookies) as response:
            payload = await response.json()
            return response.status, payload, {name: morsel.value for name, morsel in response.cookies.items()}


def verify_body(expected_count: int) -> dict:
    return verify_request([], input="count", expected_count=expected_count)


async def rollout(http: Client, initial: int, increments: list[int], jitter: random.Random | None = None) -> float:
    status, _, cookies = await http.post("/seed_session", {"initial_count": initial, "other": "ignored"})
    assert status == 200
    expected = initial
    for amount in increments:
        if jitter is not None:
            await asyncio.sleep(jitter.random() / 100)
        _, reply, cookies = await http.post("/increment_counter", {"count": amount}, cookies)
        assert reply == {"success": True}
        expected += amount
        _, reply, cookies = await http.post("/get_counter_value", {}, cookies)
        assert reply == {"count": expected}, "another session's increments leaked into this one"
    _, result, _ = await http.post("/verify", verify_body(expected), cookies)
    return result["reward"]


async def test_a_rollout_counts_from_its_seed_and_is_rewarded(server, http) -> None:
    assert await rollout(http, 3, [4, 5]) == 1.0


async def test_wrong_expected_count_earns_zero(server, http) -> None:
    _, _, cookies = await http.post("/seed_session", {"initial_count": 1})
    _, result, _ = await http.post("/verify", verify_body(2), cookies)
    assert result["reward"] == 0.0
    assert set(result) == {"responses_create_params", "response", "reward"}


async def test_seed_requires_an_initial_count(server, http) -> None:
    status, _, _ = await http.post("/seed_session", {})
    assert status == 422


async def test_verify_evicts_the_session(server, http) -> None:
    _, _, cookies = await http.post("/seed_session", {"initial_count": 6})
    assert len(server.store) == 1
    assert (await http.post("/verify", verify_body(6), cookies))[1]["reward"] == 1.0
    assert len(server.store) == 0
    assert (await http.post("/verify", verify_body(6), cookies))[1]["reward"] == 0.0  # no session any more


async def test_a_session_idle_for_too_long_is_dropped(server, http) -> None:
    _, _, cookies = await http.post("/seed_session", {"initial_count": 6})
    server.store.clock.now += server.config.session_idle_timeout_s + 1
    _, result, _ = await http.post("/verify", verify_body(6), cookies)
    assert result["reward"] == 0.0 and len(server.store) == 0


async def test_tools_without_a_seed_start_at_zero(server, http) -> None:
    _, _, cookies = await http.post("/increment_counter", {"count": 2})
    assert (await http.post("/get_counter_value", {}, cookies))[1] == {"count": 2}
    assert (await http.post("/get_counter_value", {}))[1] == {"count": 0}  # no cookie: a new session


async def test_two_sessions_keep_separate_counters(server, http) -> None:
    _, _, first = await http.post("/seed_session", {"initial_count": 2})
    _, _, second = await http.post("/seed_session", {"initial_count": 4})
    await http.post("/increment_counter", {"count": 3}, second)
    assert (await http.post("/get_counter_value", {}, first))[1] == {"count": 2}
    assert (await http.post("/get_counter_value", {}, second))[1] == {"count": 7}


async def test_200_concurrent_rollouts_share_no_state(server, http) -> None:
    rng = random.Random(7)
    plans = [(rng.randint(0, 50), [rng.randint(1, 9) for _ in range(rng.randint(1, 4))]) for _ in range(200)]
    rewards = await asyncio.gather(
        *(rollout(http, initial, steps, random.Random(i)) for i, (initial, steps) in enumerate(plans))
    )
    assert rewards == [1.0] * 200
    assert len(server.store) == 0  # every session was evicted by its verify


def test_store_seed_is_idempotent_and_pop_removes() -> None:
    store = CounterStore(idle_timeout_s=None, max_sessions=None)
    store.seed("a", 5)
    store.seed("a", 9)
    assert store.add("a", 1) == 6 and store.pop("a") == 6 and store.pop("a") is None and len(store) == 0


def test_store_expires_only_idle_sessions() -> None:
    clock = FakeClock()
    store = CounterStore(idle_timeout_s=10, max_sessions=None, clock=clock)
    store.seed("old", 1)
    clock.now += 6
    store.seed("young", 2)
    clock.now += 6  # "old" is 12 s idle, "young" 6 s
    assert "old" not in store and store.get("young") == 2
    clock.now += 9  # "young" was refreshed by get 9 s ago
    assert "young" in store


def test_store_caps_the_number_of_sessions() -> None:
    store = CounterStore(idle_timeout_s=None, max_sessions=3)
    for name in "abcd":
        store.seed(name, 0)
    assert len(store) == 3 and "a" not in store


def test_example_data_is_what_the_script_generates() -> None:
    lines = (FOLDER / "data" / "example.jsonl").read_text().splitlines()
    assert len(lines) == 5 and [json.loads(line) for line in lines] == build_rows()
    for row in build_rows():
        BaseRunRequest.model_validate(row)
        assert row["expected_count"] > row["initial_count"]


def test_config_wires_the_agent_to_this_server() -> None:
    config = yaml.safe_load((FOLDER / "configs" / "example_session_state_mgmt.yaml").read_text())
    agent = config["example_session_state_mgmt_simple_agent"]["responses_api_agents"]["simple_agent"]
    assert agent["resources_server"]["name"] == "example_session_state_mgmt_resources_server"
    server = config[agent["resources_server"]["name"]]["resources_servers"]["example_session_state_mgmt"]
    StatefulCounterResourcesServerConfig(host="h", port=1, name="n", **server)
