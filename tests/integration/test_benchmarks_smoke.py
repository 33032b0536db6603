"""A quick smoke of every benchmark script: it runs end to end on tiny inputs and prints its JSON figures."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(*args: str, logs: Path | None = None) -> list[dict]:
    """Run one benchmark, with its logs in ``logs`` (the test's own folder, so nothing is left in /tmp)."""
    command = [sys.executable, "-m", *args, *(["--logs", str(logs)] if logs else [])]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-2000:]
    for line in lines:
        assert line["machine"]["cpus"] >= 1 and line["machine"]["python"]
    return lines


def test_throughput_smoke(tmp_path: Path) -> None:
    (line,) = run_benchmark(
        "benchmarks.throughput", "--rows", "40", "--env", "example_single_tool_call", logs=tmp_path
    )
    for case in ("concurrency_64", "unbounded"):
        assert line[case]["rows_written"] == 40 and line[case]["failures"] == 0
        assert line[case]["rollouts_per_s"] > 0 and line[case]["cpu_ms_per_rollout"] > 0
        assert 0 < line[case]["cpu_ms_per_rollout_after_collector_startup"] < line[case]["cpu_ms_per_rollout"]


def test_concurrency_smoke(tmp_path: Path) -> None:
    (line,) = run_benchmark("benchmarks.concurrency", "--rows", "300", "--latency", "0.2", logs=tmp_path)
    assert line["rows_written"] == 300 and line["failures"] == 0 and line["exit_code"] == 0
    assert line["server_peak_rss_mb"]


def test_startup_smoke(tmp_path: Path) -> None:
    (line,) = run_benchmark("benchmarks.startup", "--repeats", "1", logs=tmp_path)
    assert 0 < line["ray_excluded_median_s"] and 0 < line["ray_included_median_s"]


def test_hop_smoke(tmp_path: Path) -> None:
    (line,) = run_benchmark("benchmarks.hop", "--requests", "200", "--concurrency", "16", logs=tmp_path)
    assert line["echo"]["errors"] == 0 and line["vllm_model"]["errors"] == 0
    assert 0 < line["ratio_vllm_model_to_echo"]


def test_verify_smoke() -> None:
    (line,) = run_benchmark("benchmarks.verify", "--answers", "60", "--words", "50")
    assert line["serial_answers_per_s"] > 0 and line["ray_answers_per_s"] > 0


def test_scale_smoke(tmp_path: Path) -> None:
    (line,) = run_benchmark("benchmarks.scale", "--rows", "16", "--replicas", "2", "--env", "code_gen", logs=tmp_path)
    (case,) = line["code_gen"]
    assert case["agent_replicas"] == 2 and case["rows_written"] == 16 and case["failures"] == 0
    assert case["rollouts_per_s"] > 0 and case["cpu_ms_per_rollout"] > 0
    by_group = case["cpu_ms_per_rollout_by_group"]
    assert by_group["replicas"] > 0 and by_group["ray"] > 0  # the replicas and the unit tests ran on the cluster
