"""Seconds from starting ``ng_run`` to all servers ready, for the 3-server quick-start config.

    python benchmarks/startup.py [--repeats 3]

Two cases side by side: ng_run starting its own Ray cluster ("ray_included"), and ng_run joining a cluster
started beforehand ("ray_excluded"). The model is vllm_model pointed at the scripted upstream, so no model
loading is timed. The first run with its own cluster also measures the idle memory of the whole ng_run tree
(RSS and PSS per process, Ray's processes apart), 5 s after ready. Prints one JSON line.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import (
    ROOT,
    add_logs_argument,
    free_port,
    logs_folder,
    machine,
    server_names,
    tree_memory,
    wait_until_idle,
)
from nemo_gym.runtime.ray_setup import LocalRayCluster
from nemo_gym.testing.scripted_upstream import ScriptedUpstream

IDLE_SETTLE_S = 5.0
CONFIGS = (
    "resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml,"
    "responses_api_models/vllm_model/configs/vllm_model.yaml"
)


def time_one(
    upstream_url: str, log_path: Path, extra: list[str], env: dict[str, str], memory: dict | None = None
) -> float:
    """Seconds until ng_run reports every server ready; with ``memory``, also its tree's idle memory (filled in)."""
    head_port = free_port()
    command = [
        sys.executable,
        "-c",
        "from nemo_gym.cli.run import main; main()",
        f"+config_paths=[{CONFIGS}]",
        f"+head_server.port={head_port}",
        f"+policy_base_url={upstream_url}",
        "+policy_api_key=EMPTY",
        "+policy_model_name=scripted",
        *extra,
    ]
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while "servers ready" not in log_path.read_text():
                if process.poll() is not None:
                    raise RuntimeError(log_path.read_text())
                if time.monotonic() - started > 300:
                    raise TimeoutError(log_path.read_text())
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            if memory is not None:
                # servers are ready before Ray (they join it when they need it): measure the whole tree idle
                ray_deadline = time.monotonic() + 120
                while "Started Ray cluster" not in log_path.read_text() and "ray_head_node_address=" not in str(extra):
                    if time.monotonic() > ray_deadline:
                        raise TimeoutError(log_path.read_text())
                    time.sleep(0.1)
                time.sleep(IDLE_SETTLE_S)  # let start-up garbage go and Ray's processes settle
                memory.update(tree_memory(process.pid, server_names(head_port)))
            return elapsed
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    add_logs_argument(parser)
    args = parser.parse_args()
    logs = logs_folder(args, "startup_")
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    runs: dict[str, list[float]] = {"ray_included": [], "ray_excluded": []}
    memory: dict = {}
    with ScriptedUpstream() as upstream:
        for index in range(args.repeats):
            runs["ray_included"].append(
                time_one(upstream.base_url, logs / f"inc{index}.log", [], env, memory if index == 0 else None)
            )
        cluster = LocalRayCluster()
        cluster.start()
        cluster.wait_ready()
        wait_until_idle(cluster.process.pid)  # its dashboard and agents start after the GCS answers
        address = cluster.address
        try:
            joined_env = cluster.child_env(env)  # the servers that join it present its token
            for index in range(args.repeats):
                runs["ray_excluded"].append(
                    time_one(
                        upstream.base_url, logs / f"exc{index}.log", [f"+ray_head_node_address={address}"], joined_env
                    )
                )
        finally:
            cluster.stop()
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "servers": 3,
                **{f"{case}_median_s": round(statistics.median(values), 2) for case, values in runs.items()},
                "runs_s": {case: [round(value, 2) for value in values] for case, values in runs.items()},
                "idle_memory": memory,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
