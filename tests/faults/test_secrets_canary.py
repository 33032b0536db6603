"""Item 6 (and item 7's start-up warning): a canary key planted in every place a secret can hide appears in no
GET endpoint of the head server or of any child, not in ng_dump_config and not in the captured logs.

Places: a key named like a secret (``policy_api_key``, from the command line), an ``Authorization`` header, a
URL's user-info, and an ordinary key interpolated from the secret (``z: ${policy_api_key}``). The model's
upstream URL points at a port nobody listens on, so ng_run must also warn about it at start-up, masked.
"""

import signal
import subprocess
import sys
import time

import httpx
import pytest

from nemo_gym import PARENT_DIR
from nemo_gym.config.ports import find_open_port
from tests.e2e.ngrun_harness import NgRun

CANARY = "sk-canary-7f3a9c2e4b1d"
DUMP_CONFIG = [sys.executable, "-c", "from nemo_gym.cli.info import dump_config_main; dump_config_main()"]


def canary_config(dead_port: int) -> str:
    return f"""
config_paths:
  - resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml
  - responses_api_models/vllm_model/configs/vllm_model.yaml
policy_base_url: http://user:{CANARY}@127.0.0.1:{dead_port}/v1
policy_model_name: scripted-model
z: ${{policy_api_key}}
policy_model:
  responses_api_models:
    vllm_model:
      default_headers:
        Authorization: Bearer {CANARY}
"""


def get_endpoints(base_url: str) -> list[str]:
    """Every GET route of a FastAPI server without path parameters, from its own OpenAPI document."""
    schema = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    paths = [path for path, operations in schema["paths"].items() if "get" in operations and "{" not in path]
    return sorted({*paths, "/openapi.json", "/docs", "/redoc"})


@pytest.fixture()
def ng_run(tmp_path):
    dead_port = find_open_port()
    config_path = tmp_path / "canary.yaml"
    config_path.write_text(canary_config(dead_port))
    overrides = (f"+config_paths=[{config_path}]", f"+policy_api_key={CANARY}")
    run = NgRun(tmp_path, *overrides, root=PARENT_DIR)
    try:
        yield run, overrides, dead_port
    finally:
        run.kill_everything()


def wait_for_output(run: NgRun, text: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in run.output():
        assert time.monotonic() < deadline, f"{text!r} never appeared in ng_run's output:\n{run.output()[-3000:]}"
        time.sleep(0.1)


def test_the_canary_key_appears_in_no_endpoint_dump_or_log(ng_run) -> None:
    run, overrides, dead_port = ng_run
    records = run.wait_ready()
    urls = {record["process_name"]: record["url"] for record in records}
    assert set(urls) == {"policy_model", "example_single_tool_call", "example_single_tool_call_simple_agent"}

    # Item 7: the silent upstream is named at start-up, with its user-info masked.
    assert f"no answer from its upstream at http://****@127.0.0.1:{dead_port}/v1/models" in run.output()

    # Error paths that carry the secret: an upstream call to the URL with user-info and the header; a 422.
    agent = urls["example_single_tool_call_simple_agent"]
    failed = httpx.post(f"{agent}/run", json={"responses_create_params": {"input": "hi"}}, timeout=120)
    assert failed.status_code == 502
    invalid = httpx.post(f"{urls['policy_model']}/v1/responses", json={"input": 5, "user": CANARY}, timeout=30)
    assert invalid.status_code == 422
    wait_for_output(run, "Hit validation exception on /v1/responses")

    checked = []
    for base_url in [run.head_url, *urls.values()]:
        for path in get_endpoints(base_url):
            response = httpx.get(base_url + path, timeout=10)
            assert CANARY not in response.text, f"{base_url}{path} shows the canary"
            checked.append(path)
    assert {"/global_config_dict_yaml", "/server_instances", "/health"} <= set(checked)
    assert "****" in httpx.get(f"{run.head_url}/global_config_dict_yaml", timeout=10).text

    dump = subprocess.run(
        [*DUMP_CONFIG, *overrides], cwd=PARENT_DIR, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "Authorization: '****'" in dump or "Authorization: ****" in dump
    assert f"http://****@127.0.0.1:{dead_port}/v1" in dump
    assert CANARY not in dump

    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(timeout_s=30) == 0
    assert CANARY not in run.output()
