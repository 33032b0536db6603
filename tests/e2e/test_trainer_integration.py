"""A trainer (shaped like NeMo RL) drives NeMo Gym from a Ray actor through the reference's public Python API.

``trainer_session.py`` is the trainer: it starts its own local Ray cluster, and its actor starts the quick-start
environment (example_single_tool_call + simple_agent + vllm_model in training mode) against two scripted vLLM
upstreams, sends rows, health-checks, kills a server, shuts down and starts again. These tests check what it saw.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from nemo_gym.config.ports import find_open_port

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SERVER_NAMES = {"policy_model", "example_single_tool_call", "example_single_tool_call_simple_agent"}
# The first turn thinks, says something and calls the tool; the second thinks and answers from the tool output.
UPSTREAM_RULES = [
    {
        "match": {"has_tool_output": False},
        "reply": {
            "reasoning": "The user asks about the weather, so I call the tool.",
            "content": " Let me check.",
            "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}],
        },
    },
    {"match": {"has_tool_output": True}, "reply": {"reasoning": "Got it.\n", "content": "So: {tool_output}"}},
]


@contextlib.contextmanager
def scripted_upstreams(tmp_path: Path, count: int) -> Iterator[list[str]]:
    """``count`` scripted vLLM servers (separate processes, as inference workers are); yields their base URLs."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(UPSTREAM_RULES))
    processes, urls = [], []
    try:
        for _ in range(count):
            port = find_open_port(host="127.0.0.1")
            command = [sys.executable, "-m", "nemo_gym.testing.scripted_upstream", "--port", str(port)]
            processes.append(subprocess.Popen([*command, "--rules", str(rules)], stdout=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}/v1")
        deadline = time.monotonic() + 30
        for url, process in zip(urls, processes, strict=True):
            while True:
                assert process.poll() is None, "a scripted upstream exited during start-up"
                assert time.monotonic() < deadline, f"{url} did not answer within 30s"
                try:
                    if httpx.get(url.removesuffix("/v1") + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def isolated_ray_env(home: Path, ray_temp: str) -> dict[str, str]:
    """This environment without RAY_* settings; HOME (where Ray keeps its default token) and Ray's temp root
    (where a plain ``ray.init()`` looks for a running cluster) are the test's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    return env | {"HOME": str(home), "RAY_TMPDIR": ray_temp}


def run_trainer(tmp_path: Path, urls: list[str], rows: int, second_round_rows: int, env: dict[str, str]) -> dict:
    # Ray's socket paths must stay short, so its session folder is not under pytest's long tmp_path.
    ray_temp = tempfile.mkdtemp(prefix="ngt-", dir="/tmp")
    settings = {
        "upstream_base_urls": urls,
        "rows": rows,
        "second_round_rows": second_round_rows,
        "ray_temp_dir": ray_temp,
        "dotenv_dir": str(tmp_path),
    }
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    report_path = tmp_path / "report.json"
    home = tmp_path / "home"  # Ray keeps its default token in ~/.ray: never the real one
    home.mkdir()
    full_env = isolated_ray_env(home, ray_temp) | env
    log = tmp_path / "trainer.log"
    try:
        with log.open("wb") as out:
            result = subprocess.run(
                [sys.executable, str(HERE / "trainer_session.py"), str(tmp_path / "settings.json"), str(report_path)],
                cwd=tmp_path,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=420,
            )
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)
    output = log.read_text(errors="replace")
    assert result.returncode == 0, output[-6000:]
    return json.loads(report_path.read_text())


def token_id_turns(result: dict) -> list[dict]:
    """The output items that carry one model call's token ids (the last item of each turn), in order."""
    return [item for item in result["response"]["output"] if "generation_token_ids" in item]


def assert_prefix_property(result: dict) -> None:
    """What NeMo RL checks to build its message log: each turn's prompt starts with all earlier prompt+generation."""
    turns = token_id_turns(result)
    assert len(turns) == 2, [item["type"] for item in result["response"]["output"]]
    seen: list[int] = []
    for turn in turns:
        assert turn["prompt_token_ids"][: len(seen)] == seen
        assert len(turn["prompt_token_ids"]) > len(seen)  # the tool output came in between
        assert turn["generation_token_ids"] and len(turn["generation_log_probs"]) == len(turn["generation_token_ids"])
        seen = turn["prompt_token_ids"] + turn["generation_token_ids"]


def assert_started(start: dict, trainer_gcs: str | None = None) -> None:
    assert start["start_seconds"] < 120
    assert "--node-ip-address" in " ".join(start["argv"])  # the actor's argv is Ray's, and was not parsed
    assert start["config_paths"][:2] == [
        "resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml",
        "responses_api_models/vllm_model/configs/vllm_model_for_training.yaml",
    ]
    assert start["agent_configured"]
    # the servers joined the trainer's cluster: its address was handed down, and no server started Ray daemons
    assert start["ray_head_node_address"] == start["trainer_gcs_address"]
    assert start["ray_daemons_under_servers"] == []
    assert {record["process_name"] for record in start["instances"]} == SERVER_NAMES
    assert set(start["health_status_right_after_start"].values()) == {200}  # start() returned once all answered
    assert all(20000 <= record["port"] <= 30000 for record in start["instances"])  # port_range_low/high


def assert_clean_shutdown(shutdown: dict) -> None:
    assert shutdown["shutdown_seconds"] < 10
    assert shutdown["processes_before"] >= 2
    assert shutdown["processes_left"] == []
    assert shutdown["ports_still_open"] == []


def assert_rollouts(outcomes: list[dict], count: int) -> None:
    assert sorted(outcome["row"]["_rowidx"] for outcome in outcomes) == list(range(count))
    for outcome in outcomes:
        assert outcome["row_is_the_given_object"]
        assert outcome["result"]["reward"] == 1.0
        assert_prefix_property(outcome["result"])


def test_trainer_sequence_in_a_ray_actor(tmp_path: Path) -> None:
    with scripted_upstreams(tmp_path, 2) as urls:
        report = run_trainer(tmp_path, urls, rows=50, second_round_rows=5, env={"RAY_AUTH_MODE": "disabled"})
    first, second = report["rounds"]

    assert_started(first["start"])
    assert_rollouts(first["outcomes"], 50)
    assert first["failing_row"].startswith("ClientResponseError: 422")
    assert first["server_client"] == {
        "weather_status": 200,
        "weather": {"city": "Oslo", "weather_description": "The weather in Oslo is cold."},
        "agent_health": 200,
    }
    assert first["poll_while_healthy"] is None
    assert first["poll_after_kill"] is not None and "example_single_tool_call" in first["poll_after_kill"]
    assert_clean_shutdown(first["shutdown"])

    # the same actor, on the same (still running) Ray cluster, starts and stops a second set of servers
    assert_started(second["start"])
    assert second["start"]["head_port"] != first["start"]["head_port"]
    assert_rollouts(second["outcomes"], 5)
    assert second["poll_while_healthy"] is None
    assert_clean_shutdown(second["shutdown"])
    assert report["ray_usable_after_shutdown"]


def test_trainer_sequence_on_a_token_protected_cluster(tmp_path: Path) -> None:
    token_file = tmp_path / "ray_token"
    token_file.write_text(secrets.token_hex(32))
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}
    with scripted_upstreams(tmp_path, 1) as urls:
        report = run_trainer(tmp_path, urls, rows=10, second_round_rows=0, env=env)
    (first,) = report["rounds"]
    assert_started(first["start"])
    assert_rollouts(first["outcomes"], 10)
    assert first["poll_after_kill"] is not None and "example_single_tool_call" in first["poll_after_kill"]
    assert_clean_shutdown(first["shutdown"])
    assert report["ray_usable_after_shutdown"]
    assert not (tmp_path / "home" / ".ray" / "auth_token").exists()  # the trainer's token was used, none made


def test_the_trainers_guide_example_runs_as_written(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "trainers.md").read_text()
    code = re.search(r"## A runnable example.*?```python\n(.*?)```", guide, re.S).group(1)
    script = tmp_path / "trainer_example.py"
    script.write_text(code)
    home = tmp_path / "home"
    home.mkdir()
    ray_temp = tempfile.mkdtemp(prefix="ngt-", dir="/tmp")
    try:
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            env=isolated_ray_env(home, ray_temp),  # Ray's defaults: a new local cluster gets a token
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    printed = [line for line in result.stdout.splitlines() if line.startswith("row ")]
    assert printed == [f"row {index}: reward 1.0, 2 model calls" for index in range(5)]
    assert (home / ".ray" / "auth_token").is_file()  # the cluster was token-protected, and the servers joined it
