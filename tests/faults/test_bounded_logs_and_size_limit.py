"""Item 5: a bad body costs a bounded amount of log and memory; repeated errors are rate-limited; a body over
``max_request_body_mb`` is answered with 413."""

import httpx
import orjson
import pytest

from nemo_gym import PARENT_DIR
from nemo_gym.config.ports import find_open_port
from nemo_gym.testing.servers import run_entrypoint
from tests.faults.stack import still_serves

SERVER_DIR = PARENT_DIR / "resources_servers" / "example_single_tool_call"


def server_config(port: int, **top_level) -> dict:
    fields = {"entrypoint": "app.py", "domain": "agent", "host": "127.0.0.1", "port": port}
    return {"weather": {"resources_servers": {"example_single_tool_call": fields}}, **top_level}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("bounded_logs") / "server.log"
    config = server_config(find_open_port(), max_request_body_mb=16)
    with run_entrypoint(SERVER_DIR, "weather", config, log_path=log_path) as (url, _process):
        yield url, log_path


def bad_verify_body(size: int) -> bytes:
    """A /verify body of about ``size`` bytes whose ``response`` is missing: one validation error, a huge input."""
    return orjson.dumps({"responses_create_params": {"input": "x" * size}})


def test_a_10_mb_bad_body_adds_under_10_kb_of_log_and_a_small_422(server) -> None:
    url, log_path = server
    before = log_path.stat().st_size
    response = httpx.post(
        f"{url}/verify", content=bad_verify_body(10 * 2**20), headers={"content-type": "application/json"}, timeout=60
    )
    assert response.status_code == 422
    assert len(response.content) < 4000  # the input is quoted in a few hundred bytes, not echoed
    assert response.json()["detail"][0]["loc"] == ["body", "response"]
    assert still_serves(url)
    assert log_path.stat().st_size - before < 10 * 1024


def test_repeated_validation_errors_are_rate_limited(server) -> None:
    url, log_path = server
    before = log_path.read_text(errors="replace").count("Hit validation exception on /get_weather")
    for _ in range(30):
        assert httpx.post(f"{url}/get_weather", json={"town": "Oslo"}, timeout=30).status_code == 422
    logged = log_path.read_text(errors="replace").count("Hit validation exception on /get_weather") - before
    assert 1 <= logged <= 5
    assert still_serves(url)


def test_a_body_over_the_limit_is_a_413(server) -> None:
    url, _ = server
    too_big = bad_verify_body(17 * 2**20)
    response = httpx.post(f"{url}/verify", content=too_big, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert "max_request_body_mb" in response.json()["detail"]
    assert still_serves(url)


def test_a_streamed_body_over_the_limit_is_a_413(server) -> None:
    url, _ = server

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(17):
            yield b" " * 2**20

    response = httpx.post(f"{url}/verify", content=chunks(), headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert still_serves(url)
