"""ng_collect_rollouts in one-shot mode: it starts the config's servers itself, collects, and stops them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import psutil

FIXTURE_ROOT = Path(__file__).parent / "fixture_root"
COLLECT = [sys.executable, "-c", "from nemo_gym.cli.rollouts import collect_main; collect_main()"]


def processes_under(root: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cwd", "cmdline"]):
        try:
            if (process.info["cwd"] or "").startswith(str(root)) and process.pid != os.getpid():
                found.append(f"{process.pid} {' '.join(process.info['cmdline'] or [])[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def test_one_shot_mode_starts_collects_and_stops_the_servers(tmp_path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE_ROOT, root)
    rows = [
        {
            "id": i,
            "responses_create_params": {"input": "2+2?"},
            "answer": "4",
            "expected_answer": "4" if i < 3 else "5",
        }
        for i in range(4)
    ]
    (root / "input.jsonl").write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    env = {**os.environ, "NEMO_GYM_ROOT": str(root), "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    completed = subprocess.run(
        [
            *COLLECT,
            "+config_paths=[configs/rollout_one_shot.yaml]",
            "+agent_name=rollout_test_agent",
            "+input_jsonl_fpath=input.jsonl",
            "+output_jsonl_fpath=results/out.jsonl",
            "+num_repeats=2",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = completed.stdout + completed.stderr
    assert completed.returncode == 0, log
    results = [orjson.loads(line) for line in (root / "results" / "out.jsonl").read_bytes().splitlines()]
    assert sorted((r["_ng_rollout"]["row_index"], r["_ng_rollout"]["repeat"]) for r in results) == [
        (i, rep) for i in range(4) for rep in range(2)
    ]
    assert {r["agent_label"] for r in results} == {"one_shot"}
    metrics = orjson.loads((root / "results" / "out.jsonl.metrics.json").read_bytes())
    assert metrics["mean_reward"] == 0.75
    assert metrics["mean_reward_by_agent"] == {"rollout_test_agent": 0.75}
    server_log = (root / "results" / "out.jsonl.servers.log").read_text()
    assert "rollout_test_agent" in server_log and "NeMo Gym finished!" in server_log
    assert processes_under(root) == []
