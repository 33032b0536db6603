"""Item 7 at start-up: ng_run asks each model server's upstream for ``/models``; a silent one gets one warning
naming its URL (user-info masked), or, with ``model_upstream_wait_s``, a bounded wait that fails naming it."""

import threading
import time

import pytest

from nemo_gym.config.loader import parse_config
from nemo_gym.config.ports import find_open_port
from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.upstream_check import check_model_upstreams, model_upstreams
from nemo_gym.testing.scripted_upstream import ScriptedUpstream


def vllm_config(*base_urls: str) -> dict:
    fields = {
        "entrypoint": "app.py",
        "base_url": list(base_urls),
        "api_key": "EMPTY",
        "model": "m",
        "return_token_id_information": False,
        "uses_reasoning_parser": False,
    }
    return {"policy_model": {"responses_api_models": {"vllm_model": fields}}}


def run_check(config: dict, **top_level) -> list[str]:
    parsed = parse_config(config | top_level, skip_dotenv=True)
    said: list[str] = []
    check_model_upstreams(
        parsed.config, model_upstreams(parsed.config, parsed.instances), said.append, threading.Event()
    )
    return said


def test_a_silent_upstream_gets_one_warning_naming_it_and_a_live_one_none() -> None:
    dead_port = find_open_port()
    with ScriptedUpstream() as live:
        said = run_check(vllm_config(live.base_url, f"http://u:pw-123456@127.0.0.1:{dead_port}"))
    assert len(said) == 1
    assert f"http://****@127.0.0.1:{dead_port}/v1/models" in said[0] and said[0].startswith("WARNING")
    assert "pw-123456" not in said[0]


def test_the_check_can_be_turned_off() -> None:
    assert run_check(vllm_config(f"http://127.0.0.1:{find_open_port()}/v1"), model_upstream_check=False) == []


def test_a_hard_wait_returns_once_the_upstream_answers() -> None:
    port = find_open_port()
    upstream = ScriptedUpstream()
    timer = threading.Timer(1.0, upstream.start, kwargs={"port": port})
    timer.start()
    try:
        said = run_check(vllm_config(f"http://127.0.0.1:{port}/v1"), model_upstream_wait_s=30)
    finally:
        timer.join()
        upstream.stop()
    assert said[-1] == "All 1 model upstream(s) answer"


def test_a_hard_wait_fails_after_its_timeout_naming_the_url() -> None:
    port = find_open_port()
    started = time.monotonic()
    with pytest.raises(SupervisorError, match=f"127.0.0.1:{port}/v1/models"):
        run_check(vllm_config(f"http://127.0.0.1:{port}/v1"), model_upstream_wait_s=1.5)
    assert time.monotonic() - started < 10
