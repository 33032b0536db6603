"""ng_prepare_data on a small config: both modes, repeats, invalid samples, conflicts and missing datasets."""

import json
import os
import subprocess
import sys

import pytest

from nemo_gym.config.loader import parse_config
from nemo_gym.rollouts.data_preparation import (
    INITIAL_GLOBAL_CONFIG,
    DataPreparationError,
    TrainDataProcessorConfig,
    prepare_data,
)

CONFIG = """
policy_model:
  responses_api_models:
    fake_model:
      entrypoint: app.py
      base_url: ${policy_base_url}
tasks:
  resources_servers:
    tasks:
      entrypoint: app.py
      domain: other
tasks_agent:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      resources_server: {type: resources_servers, name: tasks}
      model_server: {type: responses_api_models, name: policy_model}
      datasets:
      - {name: example, type: example, jsonl_fpath: data/example.jsonl}
      - {name: train, type: train, jsonl_fpath: data/train.jsonl, license: MIT, num_repeats: 2}
      - {name: validation, type: validation, jsonl_fpath: data/validation.jsonl, license: MIT}
"""


def sample(i: int, **fields) -> str:
    row = {"responses_create_params": {"input": [{"role": "user", "content": f"question {i}"}]}, "id": i, **fields}
    return json.dumps(row) + "\n"


@pytest.fixture()
def root(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "tasks.yaml").write_text(CONFIG)
    data = tmp_path / "data"
    data.mkdir()
    (data / "example.jsonl").write_text(sample(0) + "{broken\n" + sample(2) + '{"id": 3}\n' + sample(4))
    (data / "train.jsonl").write_text(sample(10) + sample(11))
    (data / "validation.jsonl").write_text(sample(20, temperature_hint=0.5))
    monkeypatch.setenv("NEMO_GYM_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(mode: str, **extra):
    overrides = {"config_paths": ["configs/tasks.yaml"]}
    parsed = parse_config(overrides, initial=INITIAL_GLOBAL_CONFIG, skip_dotenv=True)
    config = TrainDataProcessorConfig(output_dirpath="prepared", mode=mode, **extra)
    return prepare_data(config, parsed)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_example_validation_reports_invalid_lines_and_leaves_them_out(root) -> None:
    result = run("example_validation")
    report = result.reports[0]
    assert [number for number, _ in report.invalid] == [2, 4]
    assert "invalid JSON" in report.invalid[0][1] and "responses_create_params" in report.invalid[1][1]
    collated = lines(root / "prepared" / "example.jsonl")
    assert [row["id"] for row in collated] == [0, 2, 4]
    assert all(row["agent_ref"] == {"type": "responses_api_agents", "name": "tasks_agent"} for row in collated)
    assert lines(root / "data" / "example_prepare.jsonl") == collated
    metrics = json.loads((root / "data" / "example_metrics.json").read_text())
    assert metrics["name"] == "example" and metrics["license"] is None
    assert metrics["Number of examples"] == 3 and metrics["id"]["Average"] == 2.0
    assert json.loads((root / "prepared" / "example_metrics.json").read_text())["Number of examples"] == 3
    assert result.num_invalid == 2 and set(result.output_files) == {"example"}


def test_train_preparation_repeats_lines_consecutively_and_collates_both_types(root) -> None:
    result = run("train_preparation")
    assert [row["id"] for row in lines(root / "prepared" / "train.jsonl")] == [10, 10, 11, 11]
    assert [row["id"] for row in lines(root / "prepared" / "validation.jsonl")] == [20]
    train_metrics = json.loads((root / "prepared" / "train_metrics.json").read_text())
    assert train_metrics["Number of examples"] == 4
    assert train_metrics["id"] == {
        "Total # non-null values": 4,
        "Average": 10.5,
        "Min": 10.0,
        "Max": 11.0,
        "Standard deviation": 0.577,
    }
    assert set(result.output_files) == {"train", "validation"} and result.num_invalid == 0
    assert not (root / "prepared" / "example.jsonl").exists()


def test_changed_data_is_a_conflict_and_the_old_metrics_file_is_kept(root) -> None:
    run("train_preparation")
    before = (root / "data" / "train_metrics.json").read_text()
    run("train_preparation")  # unchanged data: no conflict
    (root / "data" / "train.jsonl").write_text(sample(10) + sample(99))
    with pytest.raises(DataPreparationError, match="conflicting aggregate metrics") as raised:
        run("train_preparation")
    assert "train_metrics.json" in str(raised.value)
    assert (root / "data" / "train_metrics.json").read_text() == before
    conflict = json.loads((root / "data" / "train_metrics_conflict.json").read_text())
    assert conflict["id"]["Max"] == 99.0


def test_missing_datasets_are_an_error_and_download_is_not_available_offline(root) -> None:
    (root / "data" / "validation.jsonl").unlink()
    with pytest.raises(DataPreparationError, match="Missing local datasets"):
        run("train_preparation")
    with pytest.raises(DataPreparationError, match="Cannot download datasets"):
        run("train_preparation", should_download=True)
    (root / "data" / "example.jsonl").unlink()
    with pytest.raises(DataPreparationError, match="missing example jsonl"):
        run("example_validation")


def test_the_command_exits_non_zero_when_examples_are_invalid(root) -> None:
    command = [sys.executable, "-c", "from nemo_gym.cli.data import prepare_main; prepare_main()"]
    args = ["+config_paths=[configs/tasks.yaml]", "+output_dirpath=prepared"]
    env = {**os.environ, "NEMO_GYM_ROOT": str(root)}
    failed = subprocess.run(
        [*command, *args, "+mode=example_validation"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 1, failed.stderr
    assert "line 2: invalid JSON" in failed.stderr and "line 4:" in failed.stderr
    passed = subprocess.run(
        [*command, *args, "+mode=train_preparation"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert passed.returncode == 0, passed.stderr
    assert "View your final data!" in passed.stderr
