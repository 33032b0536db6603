"""``nemo_gym.train_data_utils`` and ``nemo_gym.server_status`` as the reference documents them: the metric
models' fields, defaults and JSON aliases, the per-sample metrics, the data processor on a merged config, the
credential check, and ``StatusCommand`` against a live head server."""

import inspect
import json
import math
import typing
from collections import Counter

import pytest
from fastapi import FastAPI

from nemo_gym import train_data_utils as t
from nemo_gym.testing.servers import serve_app


def _fields(model) -> dict:
    return {
        name: (None if field.is_required() else field.get_default(call_default_factory=True))
        for name, field in model.model_fields.items()
    }


def _dump(model) -> dict:
    return model.model_dump(mode="json", by_alias=True)


def test_processor_config_fields_defaults_and_modes():
    assert _fields(t.TrainDataProcessorConfig) == {
        "output_dirpath": None,
        "mode": None,
        "should_download": False,
        "data_source": "huggingface",
    }
    mode = t.TrainDataProcessorConfig.model_fields["mode"].annotation
    assert set(typing.get_args(mode)) == {"train_preparation", "example_validation"}
    train = t.TrainDataProcessorConfig(output_dirpath="out", mode="train_preparation")
    assert train.in_scope_dataset_types == ["train", "validation"]
    assert t.TrainDataProcessorConfig(output_dirpath="o", mode="example_validation").in_scope_dataset_types == [
        "example"
    ]
    with pytest.raises(ValueError):
        t.TrainDataProcessorConfig(output_dirpath="o", mode="train_preparation", data_source="s3")


def test_avg_min_max_fields_aliases_and_aggregation():
    assert issubclass(t.AvgMinMax, t.Accumulator) and issubclass(t.DatasetMetrics, t.Accumulator)
    assert _fields(t.Accumulator) == {"is_aggregated": False}
    assert _fields(t.AvgMinMax) == {
        "is_aggregated": False,
        "total": 0,
        "average": 0,
        "min": math.inf,
        "max": -math.inf,
        "stddev": 0,
        "mean": 0,
        "M2": 0,
    }
    values = t.AvgMinMax()
    for value in (0, 1, 2, 3, 4):
        values.observe(value)
    assert (values.average, values.stddev) == (0, 0)  # only aggregate() fills them
    aggregated = values.aggregate()
    assert aggregated.is_aggregated and not values.is_aggregated
    # The running state and the flag are not part of the JSON; the figures are, by their aliases, in this order.
    assert list(_dump(aggregated).items()) == [
        ("Total # non-null values", 5),
        ("Average", 2.0),
        ("Min", 0.0),
        ("Max", 4.0),
        ("Standard deviation", 1.58),
    ]
    other = t.AvgMinMax()
    other.observe(10)
    values.add(other)  # merging, not observing
    assert (values.total, values.max) == (6, 10.0)
    with pytest.raises(AssertionError):
        values.add(aggregated)
    assert _dump(t.AvgMinMax().aggregate()) == {
        "Total # non-null values": 0,
        "Average": 0.0,
        "Min": 0.0,
        "Max": 0.0,
        "Standard deviation": 0.0,
    }


def test_string_and_dataset_metrics_and_the_validator_state():
    assert _fields(t.StringMetrics) == {"unique_count": None, "total_count": None}
    assert _fields(t.DatasetMetrics)["number_of_examples"] == 0
    assert list(t.DatasetMetrics.model_fields) == [
        "is_aggregated",
        "number_of_examples",
        "number_of_tools",
        "json_dumped_number_of_words",
        "number_of_turns",
        "temperature",
    ]
    assert t.DatasetMetrics.model_config["extra"] == "allow"
    assert [field.serialization_alias for field in list(t.DatasetMetrics.model_fields.values())[1:]] == [
        "Number of examples",
        "Number of tools",
        "Json-dumped number of words (proxy for token count)",
        "Number of turns",
        "Temperature",
    ]
    state = t.DatasetValidatorState()
    assert (state.metrics, state.key_counts, state.offending_example_idxs, state.other_metrics) == (
        t.DatasetMetrics(),
        Counter(),
        [],
        {},
    )


def test_compute_sample_metrics_and_the_other_metrics():
    metrics, offending = t.compute_sample_metrics('{"responses_create_params": {"input": []}}')
    assert not offending and metrics.number_of_examples == 1
    assert metrics.json_dumped_number_of_words.total == 1 and metrics.json_dumped_number_of_words.mean == 2
    assert metrics.number_of_turns.total == 0 and metrics.number_of_tools.total == 0
    row = {
        "responses_create_params": {"input": "hi", "tools": [], "temperature": 0.7},
        "id": [1, 2],
        "solved": True,
        "tag": "a",
        "meta": {"x": 1},
    }
    metrics, offending = t.compute_sample_metrics(json.dumps(row))
    assert not offending and metrics.number_of_turns.mean == 1 and metrics.number_of_tools.total == 1
    assert metrics.temperature.mean == 0.7
    for bad in ("{not json", '{"id": 1}', '{"responses_create_params": {"input": [], "bogus": 1}}'):
        assert t.compute_sample_metrics(bad) == (t.DatasetMetrics(), True)

    other: dict = {}
    t.aggregate_other_metrics(other, row)
    t.aggregate_other_metrics(other, {**row, "tag": "b", "id": 3})
    assert set(other) == {"id", "solved", "tag"}  # dicts, None, the create-params and response are left out
    assert isinstance(other["id"], t.AvgMinMax) and other["id"].total == 3
    assert other["tag"] == Counter({"a": 1, "b": 1})
    summary = t.DatasetMetrics()
    t.postprocess_other_metrics(summary, other)
    assert summary.tag == t.StringMetrics(unique_count=2, total_count=2)
    assert summary.id.is_aggregated and summary.solved.average == 1.0
    assert list(_dump(summary.aggregate()))[5:] == ["id", "solved", "tag"]


def test_validate_backend_credentials_names_missing_keys_never_values():
    ok, message = t.validate_backend_credentials("huggingface", {"hf_token": "hf_secret_value"})
    assert (ok, message) == (True, "")
    ok, message = t.validate_backend_credentials("gitlab", {"mlflow_tracking_uri": "u", "mlflow_tracking_token": ""})
    assert not ok and "mlflow_tracking_token" in message and "env.yaml" in message
    from nemo_gym.global_config import set_global_config_dict

    set_global_config_dict({"hf_token": ""})
    try:
        assert t.validate_backend_credentials("huggingface")[0] is False
    finally:
        set_global_config_dict(None)
    assert list(inspect.signature(t.prepare_data).parameters) == []


CONFIG = """
policy_model:
  responses_api_models:
    fake_model: {entrypoint: app.py, base_url: "${policy_base_url}"}
tasks:
  resources_servers:
    tasks: {entrypoint: app.py, domain: other}
tasks_agent:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      resources_server: {type: resources_servers, name: tasks}
      model_server: {type: responses_api_models, name: policy_model}
      datasets:
      - {name: example, type: example, jsonl_fpath: data/example.jsonl}
"""


def test_train_data_processor_runs_on_a_merged_config(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "tasks.yaml").write_text(CONFIG)
    rows = [{"responses_create_params": {"input": f"q{i}"}, "id": i} for i in range(3)]
    (tmp_path / "data" / "example.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEMO_GYM_ROOT", str(tmp_path))
    config = {
        "config_paths": ["tasks.yaml"],
        "policy_base_url": "",
        "output_dirpath": "prepared",
        "mode": "example_validation",
    }
    assert t.TrainDataProcessor().run(config) is None
    collated = [json.loads(line) for line in (tmp_path / "prepared" / "example.jsonl").read_text().splitlines()]
    assert [row["agent_ref"] for row in collated] == [{"type": "responses_api_agents", "name": "tasks_agent"}] * 3
    metrics = json.loads((tmp_path / "data" / "example_metrics.json").read_text())
    assert metrics["Number of examples"] == 3 and metrics["id"]["Average"] == 1.0
    (tmp_path / "data" / "example.jsonl").unlink()
    with pytest.raises(ValueError, match="missing example jsonl"):
        t.TrainDataProcessor().run(config)


def test_status_command_lists_servers_with_health_and_uptime(capsys, monkeypatch):
    import types

    import nemo_gym.server_status
    from nemo_gym.config.schema import HeadServerConfig
    from nemo_gym.server_status import StatusCommand

    healthy = FastAPI()

    @healthy.get("/health")
    def ok() -> dict:
        return {"status": "ok"}

    with serve_app(healthy) as healthy_url:
        records = [
            {"process_name": "up", "server_type": "resources_servers", "name": "a", "url": healthy_url, "pid": 7},
            {"process_name": "down", "server_type": "responses_api_agents", "name": "b", "url": "http://127.0.0.1:1"},
            {"process_name": "nowhere", "server_type": "responses_api_models", "name": "c", "start_time": 1000.0},
        ]
        head = FastAPI()
        head.get("/server_instances")(lambda: records)
        with serve_app(head) as head_url:
            monkeypatch.setattr(nemo_gym.server_status, "time", types.SimpleNamespace(time=lambda: 10000.0))
            command = StatusCommand(HeadServerConfig(host="127.0.0.1", port=int(head_url.rsplit(":", 1)[1])))
            servers = command.discover_servers()
    assert [(server.name, server.status) for server in servers] == [
        ("a", "success"),
        ("b", "connection_error"),
        ("c", "unknown_error"),  # no URL to check
    ]
    assert servers[0].uptime_seconds == 0.0 and servers[2].uptime_seconds == 9000.0
    command.display_status(servers)
    out = capsys.readouterr().out
    assert "NeMo Gym Server Status:" in out and "[1] ✓ up (resources_servers/a)" in out and "[2] ✗ down" in out
    assert "'uptime_seconds': '0d 0h 0m 0.0s'" in out and "'uptime_seconds': '0d 2h 30m 0.0s'" in out
    assert "3 servers found (1 healthy, 2 unhealthy)" in out
    command.display_status([])
    assert "No NeMo Gym servers found running." in capsys.readouterr().out


def test_status_command_without_a_head_server(capsys):
    from nemo_gym.config.ports import find_open_port
    from nemo_gym.config.schema import HeadServerConfig
    from nemo_gym.server_status import StatusCommand

    assert StatusCommand(HeadServerConfig(host="127.0.0.1", port=find_open_port())).discover_servers() == []
    out = capsys.readouterr().out
    assert "Could not connect to head server" in out and "Start it with: `ng_run`" in out
