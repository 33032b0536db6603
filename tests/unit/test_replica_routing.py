"""Replica settings, the replica's own config, and how ``ReplicaPool`` picks, fails over and keeps sessions."""

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from nemo_gym.config.ports import find_open_port
from nemo_gym.config.replicas import replica_settings
from nemo_gym.config.schema import BaseServerInstanceConfig, ServerInstance
from nemo_gym.errors import ConfigError
from nemo_gym.http.client import close_global_aiohttp_session
from nemo_gym.http.middleware import SessionMiddleware
from nemo_gym.http.replica_routing import (
    REPLICA_SESSION_KEY,
    NoReadyReplicaError,
    ReplicaPool,
    ReplicaSessionTag,
    is_replicated,
    replica_of_cookie,
)
from nemo_gym.http.retry_policy import RetryPolicy
from nemo_gym.runtime.replica_actor import replica_config, replica_hosts


def instance(**fields) -> ServerInstance:
    config = BaseServerInstanceConfig.model_validate({"entrypoint": "app.py", **fields})
    return ServerInstance(
        name="agent", server_type="responses_api_agents", implementation="simple_agent", config=config
    )


def test_an_instance_without_num_replicas_is_a_local_process() -> None:
    assert replica_settings(instance()) is None


def test_replica_defaults_one_cpu_each_and_restart() -> None:
    settings = replica_settings(instance(num_replicas=3))
    assert settings.num_replicas == 3
    assert settings.actor_options == {"num_cpus": 1}
    assert settings.failure_policy == "restart"
    custom = replica_settings(
        instance(
            num_replicas=2, replica_resources={"num_cpus": 0.5, "resources": {"big": 1}}, replica_failure_policy="stop"
        )
    )
    assert custom.actor_options == {"num_cpus": 0.5, "resources": {"big": 1.0}}
    assert custom.failure_policy == "stop"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"num_replicas": 0}, "agent.responses_api_agents.simple_agent.num_replicas: expected an integer >= 1, got 0"),
        ({"num_replicas": "two"}, "num_replicas: expected an integer >= 1, got 'two'"),
        ({"num_replicas": 2, "replica_resources": {"cpus": 1}}, "replica_resources: expected a mapping with keys"),
        ({"num_replicas": 2, "replica_resources": {"num_cpus": -1}}, "replica_resources.num_cpus: expected a number"),
        ({"num_replicas": 2, "replica_failure_policy": "retry"}, "expected 'restart' or 'stop', got 'retry'"),
        ({"replica_failure_policy": "stop"}, "replica_failure_policy: only applies with num_replicas"),
        ({"num_replicas": 2, "isolated_env": True}, "isolated_env: replicas run with the Ray workers' Python"),
    ],
)
def test_bad_replica_keys_are_one_line_errors_naming_the_key(fields, message) -> None:
    with pytest.raises(ConfigError) as raised:
        replica_settings(instance(**fields))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_replica_listens_where_its_node_is_reachable() -> None:
    assert replica_hosts("127.0.0.1", "10.0.0.7") == ("127.0.0.1", "127.0.0.1")
    assert replica_hosts("0.0.0.0", "10.0.0.7") == ("0.0.0.0", "10.0.0.7")
    assert replica_hosts("10.0.0.1", "10.0.0.7") == ("10.0.0.7", "10.0.0.7")


def test_a_replica_sees_its_own_instance_on_its_own_port_and_others_unchanged() -> None:
    config = {
        "agent": {"responses_api_agents": {"simple_agent": {"host": "127.0.0.1", "port": 1, "num_replicas": 2}}},
        "model": {"responses_api_models": {"vllm_model": {"host": "127.0.0.1", "port": 2, "num_replicas": 2}}},
    }
    spec = {"name": "agent", "server_type": "responses_api_agents", "implementation": "simple_agent", "index": 1}
    mine = replica_config(config, spec, "127.0.0.1", 4321)
    assert mine["agent"]["responses_api_agents"]["simple_agent"] == {
        "host": "127.0.0.1",
        "port": 4321,
        "replica_index": 1,
    }
    assert mine["model"] == config["model"]
    assert (
        config["agent"]["responses_api_agents"]["simple_agent"]["num_replicas"] == 2
    )  # the run's config is untouched
    assert is_replicated(config, "agent") and not is_replicated(mine, "agent") and not is_replicated(config, "nope")


def pool_with(urls: list[str]) -> ReplicaPool:
    pool = ReplicaPool("agent", "http://127.0.0.1:9")
    pool._apply([{"process_name": "agent", "replica_state": "ready", "url": url} for url in urls])
    return pool


def test_only_ready_replicas_of_the_instance_are_used() -> None:
    pool = ReplicaPool("agent", "http://127.0.0.1:9")
    pool._apply(
        [
            {"process_name": "agent", "replica_state": "ready", "url": "http://a"},
            {"process_name": "agent", "replica_state": "restarting", "url": "http://b"},
            {"process_name": "other", "replica_state": "ready", "url": "http://c"},
            {"process_name": "agent", "url": "http://local-process"},
        ]
    )
    assert pool.urls == ["http://a"]


def test_the_replica_with_fewest_calls_in_flight_is_chosen_and_a_session_keeps_its_replica() -> None:
    pool = pool_with(["http://a", "http://b", "http://c"])
    pool.in_flight = {"http://a": 3, "http://b": 1, "http://c": 2}
    assert pool.choose(None) == "http://b"
    assert pool.choose("http://a") == "http://a"
    pool.down_until["http://a"] = time.monotonic() + 60
    assert pool.choose("http://a") == "http://b"  # its replica is down: any other
    pool.down_until = {url: time.monotonic() + 60 for url in pool.urls}
    assert pool.choose(None) is None


def test_the_session_cookie_names_the_replica_that_created_the_session() -> None:
    app = FastAPI()

    @app.get("/session")
    def session(request: Request) -> dict:
        return dict(request.session)

    app.add_middleware(ReplicaSessionTag, replica_url="http://10.0.0.7:5000")
    app.add_middleware(SessionMiddleware, secret_key="s", session_cookie="SimpleAgent___agent")
    with TestClient(app) as client:
        response = client.get("/session")
        assert response.json()[REPLICA_SESSION_KEY] == "http://10.0.0.7:5000"
        cookie = response.cookies["SimpleAgent___agent"]
    assert replica_of_cookie(cookie) == "http://10.0.0.7:5000"
    pool = ReplicaPool("agent", "http://127.0.0.1:9")
    assert pool.session_replica({"SimpleAgent___agent": cookie, "Other___x": "junk"}) == "http://10.0.0.7:5000"
    assert pool.session_replica({"Other___agent2": cookie}) is None
    assert replica_of_cookie("not a cookie") is None

    # a session created by a replica that is gone is taken over by the one that serves it now
    other = FastAPI()
    other.get("/session")(session)
    other.add_middleware(ReplicaSessionTag, replica_url="http://10.0.0.8:5000")
    other.add_middleware(SessionMiddleware, secret_key="s", session_cookie="SimpleAgent___agent")
    with TestClient(other) as client:
        client.cookies.set("SimpleAgent___agent", cookie)
        moved = client.get("/session")
    assert replica_of_cookie(moved.cookies["SimpleAgent___agent"]) == "http://10.0.0.8:5000"


async def serve_ok() -> tuple[web.AppRunner, str]:
    async def handler(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/run", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = find_open_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def test_calls_fail_over_from_a_replica_that_refuses_connections_without_failing() -> None:
    async def scenario() -> None:
        runner, live = await serve_ok()
        dead = f"http://127.0.0.1:{find_open_port()}"
        pool = pool_with([dead, live])
        try:
            statuses = [
                (await pool.request("POST", "/run", RetryPolicy(max_attempts=1), json={})).status for _ in range(20)
            ]
            assert statuses == [200] * 20
            assert pool.down_until[dead] > time.monotonic()
            assert pool.in_flight == {dead: 0, live: 0}
        finally:
            await runner.cleanup()
            await close_global_aiohttp_session()

    asyncio.run(scenario())


def test_with_every_replica_down_the_retry_policy_applies_then_the_error_is_raised() -> None:
    async def scenario() -> None:
        pool = pool_with([f"http://127.0.0.1:{find_open_port()}"])
        pool.head_url = f"http://127.0.0.1:{find_open_port()}"  # the head server is gone too: the list stays
        policy = RetryPolicy(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.01)
        try:
            with pytest.raises(aiohttp.ClientConnectionError) as raised:
                await pool.request("POST", "/run", policy, json={})
            assert isinstance(raised.value, NoReadyReplicaError)
            assert "no ready replica of server 'agent'" in str(raised.value)
        finally:
            await close_global_aiohttp_session()

    asyncio.run(scenario())


def test_on_another_node_servers_on_all_interfaces_are_reached_at_ng_runs_machine() -> None:
    config = {
        "head_server": {"host": "0.0.0.0", "port": 11000},
        "agent": {"responses_api_agents": {"simple_agent": {"entrypoint": "app.py", "host": "0.0.0.0", "port": 1}}},
        "model": {"responses_api_models": {"vllm_model": {"entrypoint": "app.py", "host": "0.0.0.0", "port": 2}}},
        "judge": {"responses_api_models": {"vllm_model": {"entrypoint": "app.py", "host": "127.0.0.1", "port": 3}}},
    }
    spec = {
        "name": "agent",
        "server_type": "responses_api_agents",
        "implementation": "simple_agent",
        "index": 0,
        "origin_host": "10.0.0.1",
    }
    mine = replica_config(config, spec, "0.0.0.0", 4321)
    assert mine["head_server"]["host"] == "10.0.0.1"
    assert mine["model"]["responses_api_models"]["vllm_model"]["host"] == "10.0.0.1"
    assert mine["judge"]["responses_api_models"]["vllm_model"]["host"] == "127.0.0.1"
    assert mine["agent"]["responses_api_agents"]["simple_agent"]["host"] == "0.0.0.0"  # its own: where it listens
