"""The README's first command, run as written (output redirected to a temporary folder), on the real local model."""

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
    output = tmp_path / "quickstart_rollouts.jsonl"
    args = [
        f"+output_jsonl_fpath={output}" if arg.startswith("+output_jsonl_fpath=") else arg
        for arg in readme_quickstart_args()
    ]
    result = subprocess.run(
        [sys.executable, "-c", "from nemo_gym.cli.rollouts import collect_main; collect_main()", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(row["_ng_rollout"]["row_index"] for row in rows) == [0, 1, 2, 3, 4]
    for row in rows:
        assert row["reward"] in (0.0, 1.0)  # a 135M model may or may not call the tool; the pipeline is checked
        kinds = [item["type"] for item in row["response"]["output"]]
        assert kinds, "the model produced no output items"
        assert row["reward"] == (1.0 if "function_call" in kinds else 0.0)
    metrics = json.loads(Path(f"{output}.metrics.json").read_text())
    assert metrics["num_rollouts"] == 5 and metrics["num_failed"] == 0
    printed = result.stdout + result.stderr
    assert "mean reward" in printed and str(output) in printed
