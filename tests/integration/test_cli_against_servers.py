"""ng_status and ng_collect_rollouts against a head server on a loopback socket, or none at all."""

from pathlib import Path

from fastapi import FastAPI

from nemo_gym.config.ports import find_open_port
from nemo_gym.testing.servers import serve_app
from tests.unit.test_cli_commands import SCRIPTS, collect_with_no_head_server, run_entry


def test_status_reads_the_head_server() -> None:
    head = FastAPI()
    health = FastAPI()

    @health.get("/health")
    def ok() -> dict:
        return {"status": "ok"}

    with serve_app(health) as server_url:

        @head.get("/server_instances")
        def instances() -> list:
            return [
                {
                    "process_name": "weather",
                    "server_type": "resources_servers",
                    "name": "example_single_tool_call",
                    "url": server_url,
                    "pid": 1,
                    "start_time": 1.0,
                },
                {
                    "process_name": "gone",
                    "server_type": "responses_api_agents",
                    "name": "simple_agent",
                    "url": "http://127.0.0.1:1",
                    "pid": 2,
                    "start_time": 1.0,
                },
            ]

        with serve_app(head) as head_url:
            port = head_url.rsplit(":", 1)[1]
            result = run_entry(SCRIPTS["ng_status"], f"+head_server.port={port}")
    assert result.returncode == 0, result.stderr
    assert "2 servers found (1 healthy, 1 unhealthy)" in result.stdout
    assert "✓ weather" in result.stdout and "✗ gone" in result.stdout


def test_status_without_head_server() -> None:
    result = run_entry(SCRIPTS["ng_status"], f"+head_server.port={find_open_port()}")
    assert result.returncode == 0
    assert "Could not connect to head server" in result.stdout


def test_collect_without_a_head_server_is_one_line(tmp_path: Path) -> None:
    result = collect_with_no_head_server(tmp_path, '{"responses_create_params": {"input": "hi"}}\n')
    assert result.returncode == 1
    assert "Could not connect to the head server" in result.stderr and "Traceback" not in result.stderr
