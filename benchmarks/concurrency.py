"""16,384 rollouts in flight at once with an upstream that answers after 1 s: wall time, failures, peak RSS.

    python benchmarks/concurrency.py [--rows 16384] [--latency 1.0]

The example_single_tool_call stack (agent, resources server, vllm_model) runs under ng_run in front of the
scripted upstream; ng_collect_rollouts sends every row at once (unbounded). Each rollout makes two model calls,
so the ideal wall time is about 2 x latency plus the machine's processing time. Failures must be 0. Prints one
JSON line with the peak RSS of each process and the retried calls found in the logs, by reason.
"""

import argparse
import json
import threading
import time
from pathlib import Path

from benchmarks.harness import ROOT, add_logs_argument, logs_folder, machine
from benchmarks.stack import Stack, children_cpu_s, cpu_seconds_by_role, repeat_rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--override", action="append", default=[], help="an extra ng_run override, e.g. +key=value")
    add_logs_argument(parser)
    args = parser.parse_args()
    logs = logs_folder(args, "concurrency_")
    name = "example_single_tool_call"
    input_path = logs / "input.jsonl"
    repeat_rows(ROOT / "resources_servers" / name / "data" / "example.jsonl", input_path, args.rows)
    config = f"resources_servers/{name}/configs/{name}.yaml"
    stack = Stack(config, logs, latency_s=args.latency, overrides=tuple(args.override))
    peaks: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for process, rss in stack.peak_rss_mb().items():
                peaks[process] = max(peaks.get(process, 0.0), rss)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        cpu_before, collector_before = stack.cpu_by_process(), children_cpu_s()
        outcome = stack.collect(f"{name}_simple_agent", input_path, logs / "output.jsonl", None)
        by_role = cpu_seconds_by_role(cpu_before, stack.cpu_by_process())
        by_role["collector"] = children_cpu_s() - collector_before
    finally:
        done.set()
        sampler.join()
        stack.stop()
    print(
        json.dumps(
            {
                "benchmark": "concurrency",
                "rows": args.rows,
                "upstream_latency_s": args.latency,
                "overrides": args.override,
                "wall_s": round(outcome["wall_s"], 1),
                "rows_written": outcome["rows"],
                "failures": outcome["failures"],
                "retries_logged": _retries(logs),
                "exit_code": outcome["exit_code"],
                "cpu_ms_per_rollout": round(1000 * sum(by_role.values()) / max(outcome["rows"], 1), 2),
                "cpu_s_by_process": {role: round(seconds, 1) for role, seconds in sorted(by_role.items())},
                "collector_peak_rss_mb": outcome["collector_peak_rss_mb"],
                "server_peak_rss_mb": peaks,
                "machine": machine(),
                "logs": str(logs),
            }
        )
    )


def _retries(logs: Path) -> dict[str, int]:
    """Retried calls per log (ng_run's holds every server's), by reason, e.g. ``ConnectionTimeoutError``."""
    counts: dict[str, int] = {}
    for log in logs.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if "Retrying " in line and "failed: " in line:
                reason = line.split("failed: ", 1)[1].split(":", 1)[0].split(")", 1)[0]
                key = f"{log.stem}: {reason}"
                counts[key] = counts.get(key, 0) + 1
    return counts


if __name__ == "__main__":
    main()
