"""ng_run end to end: readiness, head server, cookies between servers, secrets, crash and signal handling."""

import asyncio
import signal
import socket
import time

import httpx
import pytest
import yaml

from tests.e2e.ngrun_harness import NgRun

SECRET = "sk-test-supersecret-123456"
CONFIG = "+config_paths=[configs/two_servers.yaml]"


@pytest.fixture()
def ng_run_factory(tmp_path):
    runs: list[NgRun] = []

    def start(*overrides: str, env_yaml: str | None = f"relay_secret_api_key: {SECRET}\n") -> NgRun:
        run = NgRun(tmp_path, *overrides, env_yaml=env_yaml)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill_everything()


def test_servers_start_talk_with_cookies_and_stop_cleanly_on_sigterm(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG)
    records = run.wait_ready()
    assert {record["process_name"] for record in records} == {"counter_test", "relay_test"}
    assert all(record["pid"] and record["url"] for record in records)

    config_yaml = httpx.get(f"{run.head_url}/global_config_dict_yaml").json()
    config = yaml.safe_load(config_yaml)
    assert config["relay_test"]["responses_api_agents"]["relay_test"]["resources_server"]["name"] == "counter_test"
    assert config["ray_head_node_address"]
    for body in (config_yaml, httpx.get(f"{run.head_url}/server_instances").text, run.output()):
        assert SECRET not in body

    relay = next(record for record in records if record["process_name"] == "relay_test")
    assert httpx.post(f"{relay['url']}/relay", json={"times": 3}, timeout=30).json() == {"count": 3}
    assert httpx.post(f"{relay['url']}/relay", json={"times": 2}, timeout=30).json() == {"count": 2}

    started = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(timeout_s=20) == 0
    assert time.monotonic() - started < 12
    assert run.leftover_processes() == []
    assert "NeMo Gym finished!" in run.output()


def test_a_crashed_child_is_reported_and_everything_stops(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG)
    records = run.wait_ready()
    victim = next(record for record in records if record["process_name"] == "counter_test")
    import os

    os.kill(victim["pid"], signal.SIGKILL)
    started = time.monotonic()
    code = run.wait_exit(timeout_s=30)
    assert code != 0
    assert time.monotonic() - started < 15
    output = run.output()
    assert "'counter_test'" in output and "exited with code -9" in output
    assert "Last" in output and "Uvicorn running" in output  # the child's own last lines
    assert run.leftover_processes() == []


def test_sigint_stops_everything(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG)
    run.wait_ready()
    run.process.send_signal(signal.SIGINT)
    assert run.wait_exit(timeout_s=20) == 0
    assert run.leftover_processes() == []


def test_explicit_port_in_use_is_reported_before_any_child_starts(ng_run_factory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = ng_run_factory(CONFIG, f"+counter_test.resources_servers.counter_test.port={port}")
        assert run.wait_exit(timeout_s=60) == 1
    output = run.output()
    assert f"counter_test: port {port}" in output and "already in use" in output
    assert "Starting Ray cluster" not in output
    assert "Traceback" not in output


def test_missing_server_folder_is_a_one_line_error(ng_run_factory) -> None:
    run = ng_run_factory(
        CONFIG,
        "+ghost.resources_servers.ghost_impl.entrypoint=app.py",
        "+ghost.resources_servers.ghost_impl.domain=other",
    )
    assert run.wait_exit(timeout_s=60) == 1
    output = run.output()
    assert "ghost" in output and "does not exist" in output and "Traceback" not in output


def test_unknown_reference_is_a_one_line_error(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG, "++relay_test.responses_api_agents.relay_test.resources_server.name=nope")
    assert run.wait_exit(timeout_s=60) == 1
    output = run.output()
    assert "nope" in output and "counter_test" in output and "Traceback" not in output


def test_server_client_from_a_running_head_server(ng_run_factory) -> None:
    from nemo_gym.config.schema import HeadServerConfig
    from nemo_gym.server_utils import ServerClient, close_global_aiohttp_session, get_response_json

    run = ng_run_factory(CONFIG)
    run.wait_ready()
    client = ServerClient.load_from_global_config(HeadServerConfig(host="127.0.0.1", port=run.head_port))

    async def relay() -> dict:
        try:
            response = await client.post("relay_test", "/relay", json={"times": 4})
            return await get_response_json(response)
        finally:
            await close_global_aiohttp_session()

    assert asyncio.run(relay()) == {"count": 4}
    assert client.poll_for_status("counter_test") == "success"
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(timeout_s=20) == 0


def test_a_killed_ng_run_leaves_no_process_behind(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG)
    run.wait_ready()
    assert len(run.descendants) >= 3  # two servers and the Ray cluster's processes
    run.process.send_signal(signal.SIGKILL)
    run.wait_exit(timeout_s=10)
    assert run.leftover_processes(grace_s=20) == []


def test_num_workers_serves_one_server_from_several_processes(ng_run_factory) -> None:
    import psutil

    run = ng_run_factory(CONFIG, "+counter_test.resources_servers.counter_test.num_workers=2")
    records = run.wait_ready()
    counter = next(record for record in records if record["process_name"] == "counter_test")
    deadline = time.monotonic() + 60
    while len(psutil.Process(counter["pid"]).children()) < 2:  # uvicorn's workers (and its multiprocessing helper)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for _ in range(20):
        response = httpx.post(f"{counter['url']}/increment", json={"times": 1}, timeout=10)
        assert response.status_code == 200 and response.json()["count"] == 1  # a new session each time
    run.remember_descendants()  # now including the workers
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(timeout_s=20) == 0
    assert run.leftover_processes() == []


def test_sigterm_during_startup_stops_everything(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG)
    deadline = time.monotonic() + 60
    while "Waiting for 2 servers" not in run.output():  # children spawned, Ray still coming up
        assert run.process.poll() is None and time.monotonic() < deadline, run.output()
        time.sleep(0.02)
    run.remember_descendants()
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(timeout_s=20) == 0
    assert run.leftover_processes() == []


def test_a_server_config_error_is_reported_as_one_line_per_field(ng_run_factory) -> None:
    run = ng_run_factory(CONFIG, "++counter_test.resources_servers.counter_test.step=not-a-number")
    assert run.wait_exit(timeout_s=120) == 1
    output = run.output()
    assert "Invalid config for CounterTestServer: counter_test.resources_servers.counter_test.step:" in output
    assert "Traceback" not in output
