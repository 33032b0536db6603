"""Rollouts per second of ng_collect_rollouts against the quick-start servers with a zero-latency upstream.

    python -m benchmarks.throughput [--rows 2000] [--env example_single_tool_call|example_multi_step]

ng_run serves the environment's resources server and simple_agent, and vllm_model in front of the scripted
upstream (its own process). ng_collect_rollouts then collects ``--rows`` rows at concurrency 64 and unbounded.
Prints one JSON line per environment: rollouts/s, CPU-ms per rollout summed over every process (upstream,
ng_run and its servers, the collector) and per process (each server instance by name, ``upstream``, ``ng_run``,
``ray`` summed over Ray's processes, ``collector``), failures. The collector's start-up CPU (until it prints
"Found N rows") is reported on its own, and the total without it, since it does not grow with the rows.
"""

import argparse
import json
from pathlib import Path

from benchmarks.harness import ROOT, add_logs_argument, logs_folder, machine
from benchmarks.stack import Stack, children_cpu_s, cpu_seconds_by_role, repeat_rows

ENVIRONMENTS = {
    "example_single_tool_call": "example_single_tool_call_simple_agent",
    "example_multi_step": "example_multi_step_simple_agent",
}


def run_environment(name: str, rows: int, logs: Path) -> dict:
    folder = ROOT / "resources_servers" / name
    input_path = logs / f"{name}_input.jsonl"
    repeat_rows(folder / "data" / "example.jsonl", input_path, rows)
    stack = Stack(f"resources_servers/{name}/configs/{name}.yaml", logs)
    results = {}
    try:
        stack.collect(ENVIRONMENTS[name], input_path, logs / "warmup.jsonl", 64)  # warm connections and caches
        for label, parallel in (("concurrency_64", 64), ("unbounded", None)):
            cpu_before = stack.cpu_by_process()
            collector_before = children_cpu_s()
            outcome = stack.collect(ENVIRONMENTS[name], input_path, logs / f"{label}.jsonl", parallel)
            by_role = cpu_seconds_by_role(cpu_before, stack.cpu_by_process())
            by_role["collector"] = children_cpu_s() - collector_before
            cpu = sum(by_role.values())
            rows = max(outcome["rows"], 1)
            per_rollout = {role: round(1000 * seconds / rows, 2) for role, seconds in by_role.items()}
            startup = outcome["collector_startup_cpu_s"]
            results[label] = {
                "rollouts_per_s": round(outcome["rows"] / outcome["wall_s"], 1),
                "wall_s": round(outcome["wall_s"], 2),
                "cpu_ms_per_rollout": round(1000 * cpu / rows, 2),
                # the collector's one-off start-up (imports, config) spread over the rows is not a per-rollout cost
                "cpu_ms_per_rollout_after_collector_startup": (
                    round(1000 * (cpu - startup) / rows, 2) if startup is not None else None
                ),
                "collector_startup_cpu_s": round(startup, 2) if startup is not None else None,
                "cpu_ms_per_rollout_by_process": dict(sorted(per_rollout.items())),
                "rows_written": outcome["rows"],
                "failures": outcome["failures"],
                "mean_reward": outcome["metrics"].get("mean_reward"),
            }
    finally:
        stack.stop()
    return {"benchmark": "throughput", "environment": name, "rows": rows, **results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--env", choices=sorted(ENVIRONMENTS), action="append")
    add_logs_argument(parser)
    args = parser.parse_args()
    logs = logs_folder(args, "throughput_")
    for name in args.env or ["example_single_tool_call", "example_multi_step"]:
        print(json.dumps({**run_environment(name, args.rows, logs), "machine": machine(), "logs": str(logs)}))


if __name__ == "__main__":
    main()
