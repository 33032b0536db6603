"""SIGKILL ng_collect_rollouts at random points and resume: exactly one line per (row, repeat) in the end."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.integration.rollout_fakes import FakeAgent, fake_deployment, read_rows, task_row, write_rows

COLLECT = [sys.executable, "-c", "from nemo_gym.cli.rollouts import collect_main; collect_main()"]
NUM_ROWS, NUM_REPEATS = 60, 3


def start_collection(tmp_path: Path, head_port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "NEMO_GYM_ROOT": str(tmp_path)}
    args = [
        f"+head_server.port={head_port}",
        "+input_jsonl_fpath=input.jsonl",
        "+output_jsonl_fpath=out/rollouts.jsonl",
        "+agent_name=alpha",
        f"+num_repeats={NUM_REPEATS}",
        "+num_samples_in_parallel=8",
        *extra,
    ]
    log = (tmp_path / "collect.log").open("ab")
    return subprocess.Popen([*COLLECT, *args], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_killing_at_random_points_and_resuming_gives_each_pair_exactly_once(tmp_path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    write_rows(tmp_path / "input.jsonl", [task_row(i, max_delay_s=0.03, padding="x" * 20000) for i in range(NUM_ROWS)])
    output = tmp_path / "out" / "rollouts.jsonl"
    total = NUM_ROWS * NUM_REPEATS
    kills = 0
    with fake_deployment(FakeAgent("alpha")) as head_port:
        for attempt in range(40):
            process = start_collection(tmp_path, head_port, *(["+resume=true"] if attempt else []))
            target = count_lines(output) + rng.randrange(0, 40)
            deadline = time.monotonic() + 60
            while process.poll() is None and count_lines(output) < target and time.monotonic() < deadline:
                time.sleep(rng.random() * 0.01)
            if process.poll() is None and kills < 6:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                kills += 1
                if kills == 2 and output.exists():  # what a kill in the middle of a write would leave
                    with output.open("ab") as handle:
                        handle.write(b'{"reward": 1.0, "_ng_rollout": {"row_in')
                continue
            assert process.wait(timeout=120) == 0, (seed, (tmp_path / "collect.log").read_text()[-3000:])
            break
        else:
            raise AssertionError(f"collection never finished (seed {seed})")
    rows = read_rows(output)
    seen = sorted((row["_ng_rollout"]["row_index"], row["_ng_rollout"]["repeat"]) for row in rows)
    assert seen == [(i, r) for i in range(NUM_ROWS) for r in range(NUM_REPEATS)], f"seed {seed}, {kills} kills"
    assert kills >= 3, f"seed {seed}: the collection finished before it could be killed often enough"
    metrics = orjson.loads((tmp_path / "out" / "rollouts.jsonl.metrics.json").read_bytes())
    assert metrics["num_rollouts"] == total and metrics["mean_reward"] == 1.0


def test_the_command_exits_non_zero_when_rows_failed_and_writes_failures_and_metrics(tmp_path) -> None:
    write_rows(tmp_path / "input.jsonl", [task_row(i, fail=(i == 3)) for i in range(5)])
    with fake_deployment(FakeAgent("alpha")) as head_port:
        process = start_collection(tmp_path, head_port, "+http_client.max_attempts=1")
        code = process.wait(timeout=120)
    log = (tmp_path / "collect.log").read_text()
    assert code == 1, log
    failures = read_rows(tmp_path / "out" / "rollouts.jsonl.failures.jsonl")
    assert {(entry["row_index"], entry["status"]) for entry in failures} == {(3, 500)}
    assert len(failures) == NUM_REPEATS
    metrics = orjson.loads((tmp_path / "out" / "rollouts.jsonl.metrics.json").read_bytes())
    assert metrics["num_rollouts"] == 4 * NUM_REPEATS and metrics["num_failed"] == NUM_REPEATS
    assert "rollout(s) failed" in log and "resume=true" in log


def test_bad_input_exits_with_a_one_line_error_naming_the_line(tmp_path) -> None:
    (tmp_path / "input.jsonl").write_bytes(orjson.dumps(task_row(0)) + b"\n{oops\n")
    with fake_deployment(FakeAgent("alpha")) as head_port:
        process = start_collection(tmp_path, head_port)
        code = process.wait(timeout=120)
    log = (tmp_path / "collect.log").read_text()
    assert code == 1
    assert "line 2: invalid JSON" in log and "Traceback" not in log
