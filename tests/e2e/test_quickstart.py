"""The README's first command, run as written (output redirected to a temporary folder), on the real local model."""

import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.ngrun_harness import NgRun

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART_CONFIG = "resources_servers/example_single_tool_call/configs/quickstart.yaml"
QUICKSTART_DATA = "resources_servers/example_single_tool_call/data/example.jsonl"


def readme_quickstart_args() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Set-up \(two commands\)\s+```bash\n(.*?)```", readme, re.S).group(1)
    line = next(line for line in block.splitlines() if "ng_collect_rollouts" in line)
    command = line[line.index("ng_collect_rollouts") :]
    return shlex.split(command)[1:]


def test_readme_setup_is_two_commands_install_and_test() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Set-up \(two commands\)\s+```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert 'pip install -e ".[dev,local]"' in commands[0] and "ng_collect_rollouts" in commands[0]
    assert commands[1].endswith("pytest -q")
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[dev,local]"' in ci and "pytest -q" in ci


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python (the .[local] extra) absent"
)
def test_readme_quickstart_collects_scored_rollouts_on_the_local_model(tmp_path: Path) -> None:
    """As a new user runs it: an empty home (no ~/.ray token, no caches) and no Ray settings in the environment."""
    output = tmp_path / "quickstart_rollouts.jsonl"
    args = [
        f"+output_jsonl_fpath={output}" if arg.startswith("+output_jsonl_fpath=") else arg
        for arg in readme_quickstart_args()
    ]
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env["HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-c", "from nemo_gym.cli.rollouts import collect_main; collect_main()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(row["_ng_rollout"]["row_index"] for row in rows) == [0, 1, 2, 3, 4]
    tasks = [json.loads(line) for line in (ROOT / QUICKSTART_DATA).read_text().splitlines()]
    for row in rows:
        # a 135M model may or may not ask for the right city; the reward must say whether it did
        expected = {city.casefold() for city in tasks[row["_ng_rollout"]["row_index"]]["expected_cities"]}
        asked = {
            json.loads(item["arguments"]).get("city", "").split(",")[0].strip().casefold()
            for item in row["response"]["output"]
            if item["type"] == "function_call" and item["name"] == "get_weather" and is_json(item["arguments"])
        }
        calls = [item for item in row["response"]["output"] if item["type"] == "function_call"]
        assert row["reward"] in (0.0, 1.0)
        if row["reward"] == 1.0:
            assert asked == expected and len(calls) > 0
        else:
            assert asked != expected or any(not is_json(item["arguments"]) for item in calls)
    metrics = json.loads(Path(f"{output}.metrics.json").read_text())
    assert metrics["num_rollouts"] == 5 and metrics["num_failed"] == 0
    printed = result.stdout + result.stderr
    assert "mean reward" in printed and str(output) in printed
    assert list(home.iterdir()) == [], "the quick start wrote into the user's home"


def is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python (the .[local] extra) absent"
)
def test_ng_run_with_the_quickstart_config_then_a_collection_against_it(tmp_path: Path) -> None:
    """The README's "keep the servers running" variant, in an empty home: ng_run, then ng_collect_rollouts."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env["HOME"] = str(home)
    run = NgRun(tmp_path / "run", f"+config_paths=[{QUICKSTART_CONFIG}]", root=ROOT, base_env=env)
    try:
        run.wait_ready()
        output = tmp_path / "rollouts.jsonl"
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from nemo_gym.cli.rollouts import collect_main; collect_main()",
                f"+head_server.port={run.head_port}",
                "+agent_name=example_single_tool_call_simple_agent",
                f"+input_jsonl_fpath={QUICKSTART_DATA}",
                f"+output_jsonl_fpath={output}",
                "+limit=2",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        rows = [json.loads(line) for line in output.read_text().splitlines()]
        assert sorted(row["_ng_rollout"]["row_index"] for row in rows) == [0, 1]
        assert all(row["reward"] in (0.0, 1.0) for row in rows)
        run.process.send_signal(signal.SIGINT)
        assert run.wait_exit(timeout_s=30) == 0, run.output()
        assert run.leftover_processes() == []
    finally:
        run.kill_everything()
    assert list(home.iterdir()) == []
