"""Rollouts per second and CPU per rollout with 1, 2 and 4 agent replicas on a 2-node Ray cluster on this machine.

    python -m benchmarks.scale [--rows 600] [--replicas 1 2 4] [--env example_single_tool_call --env code_gen]

A 2-node local cluster (``nemo_gym.testing.ray_nodes``) and the scripted zero-latency upstream are started once.
For each environment and replica count, ng_run joins the cluster with the environment's simple_agent as N
replicas (``num_replicas: N``, half a logical CPU each, placed by Ray over both nodes); the model server runs as a
local process. For ``code_gen`` the resources server gets N replicas too (its CPU goes into running the
answers' unit tests as Ray tasks), and the upstream answers every prompt with a small Python program, so that
every rollout really runs its unit tests. ng_collect_rollouts collects ``--rows`` rows at concurrency 64 after
a warm-up.

Prints one JSON line: per environment and replica count, rollouts/s, CPU-ms per rollout summed over every
process of the machine that took part (upstream, ng_run and its local servers, the cluster's processes
including the replicas and Ray tasks, the collector) and that CPU split by group, and failures.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.harness import ROOT, add_logs_argument, free_port, logs_folder, machine, wait_healthy
from benchmarks.stack import MODEL_CONFIG, Stack, children_cpu_s, repeat_rows
from nemo_gym.testing.ray_nodes import LocalRayNodes

ENVIRONMENTS = {
    "example_single_tool_call": ("example_single_tool_call_simple_agent", ["example_single_tool_call_simple_agent"]),
    "code_gen": ("code_gen_simple_agent", ["code_gen_simple_agent", "code_gen"]),
}
# A program that reads its input and prints one line: every unit test runs it in a confined interpreter.
CODE_ANSWER = "Here is my solution.\n\n```python\nimport sys\n\ndata = sys.stdin.read().split()\nprint(len(data))\n```"
CONCURRENCY = 64
# Logical CPUs held by each replica: 4 agent + 4 code_gen replicas hold half of the cluster's 8, leaving the
# other half to the unit-test tasks code_gen submits (replicas holding every CPU would starve them).
REPLICA_CPUS = 0.5


class ClusterStack(Stack):
    """ng_run joined to ``nodes``, some instances as replicas; CPU counted over ng_run's tree and the cluster's."""

    def __init__(self, env: str, replicas: int, nodes: LocalRayNodes, upstream_port: int, logs: Path) -> None:
        self.logs = logs
        self.nodes = nodes
        self.head_port = free_port()
        self.upstream = None
        self.ng_run_log = logs / f"ng_run_{env}_{replicas}.log"
        config = f"resources_servers/{env}/configs/{env}.yaml"
        overrides = []
        for instance in ENVIRONMENTS[env][1]:
            keys = f"{instance}.{_first_two_keys(ROOT / config, instance)}"
            overrides += [f"++{keys}.num_replicas={replicas}", f"++{keys}.replica_resources.num_cpus={REPLICA_CPUS}"]
        process_env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        process_env.update(nodes.auth_env())
        self.ng_run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from nemo_gym.cli.run import main; main()",
                f"+config_paths=[{config},{MODEL_CONFIG}]",
                f"+head_server.port={self.head_port}",
                f"+ray_head_node_address={nodes.address}",
                f"+policy_base_url=http://127.0.0.1:{upstream_port}/v1",
                "+policy_api_key=EMPTY",
                "+policy_model_name=scripted",
                *overrides,
            ],  # fmt: skip
            cwd=ROOT,
            env=process_env,
            stdout=self.ng_run_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while "servers ready" not in self.ng_run_log.read_text(errors="replace"):
            if self.ng_run.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.ng_run_log.read_text(errors="replace")[-4000:])
            time.sleep(0.1)

    def cpu_snapshot(self) -> dict[tuple[int, float], tuple[str, float]]:
        """CPU seconds so far per process (by pid and start time) of ng_run's tree and the cluster's processes,
        each with its group: ng_run and its local servers, the replicas, or Ray (its workers run the tasks)."""
        local = [psutil.Process(self.ng_run.pid), *psutil.Process(self.ng_run.pid).children(recursive=True)]
        cluster, replica_pids = [], set()
        for pid in self.nodes.all_pids():
            try:
                process = psutil.Process(pid)
                cluster.append(process)
                if "NEMO_GYM_CONFIG_PATH" in process.environ():
                    replica_pids |= {pid, *(child.pid for child in process.children(recursive=True))}
            except psutil.Error:
                pass
        snapshot = {}
        for where, processes in (("local", local), ("cluster", cluster)):
            for process in processes:
                try:
                    times, started = process.cpu_times(), process.create_time()
                except psutil.Error:
                    continue
                if where == "local":
                    group = "ng_run_and_local_servers"
                else:
                    group = "replicas" if process.pid in replica_pids else "ray"
                seconds = times.user + times.system + times.children_user + times.children_system
                snapshot[(process.pid, started)] = (group, seconds)
        return snapshot

    def stop(self) -> None:
        self.ng_run.terminate()
        try:
            self.ng_run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.ng_run.kill()


def _first_two_keys(config_path: Path, instance: str) -> str:
    import yaml

    level_one = yaml.safe_load(config_path.read_text())[instance]
    server_type = next(iter(level_one))
    return f"{server_type}.{next(iter(level_one[server_type]))}"


def run_case(env: str, replicas: int, rows: int, nodes: LocalRayNodes, upstream: psutil.Process, logs: Path) -> dict:
    """One environment with ``replicas`` replicas: a warm-up collection, then the measured one."""
    folder = ROOT / "resources_servers" / env
    input_path = logs / f"{env}_input.jsonl"
    repeat_rows(folder / "data" / "example.jsonl", input_path, rows)
    warmup_path = logs / f"{env}_warmup_input.jsonl"
    repeat_rows(folder / "data" / "example.jsonl", warmup_path, min(rows, 2 * CONCURRENCY))
    stack = ClusterStack(env, replicas, nodes, upstream.port, logs)
    try:
        agent = ENVIRONMENTS[env][0]
        stack.collect(agent, warmup_path, logs / "warmup.jsonl", CONCURRENCY)  # connections, caches, Ray workers
        before, upstream_before, collector_before = stack.cpu_snapshot(), _cpu(upstream), children_cpu_s()
        outcome = stack.collect(agent, input_path, logs / f"{env}_{replicas}.jsonl", CONCURRENCY)
        # per process: one that ended during the run is counted in its parent's reaped-children time, if reaped
        cpu = {"ng_run_and_local_servers": 0.0, "replicas": 0.0, "ray": 0.0}
        for key, (group, seconds) in stack.cpu_snapshot().items():
            cpu[group] += seconds - before.get(key, (group, 0.0))[1]
        cpu["upstream"] = _cpu(upstream) - upstream_before
        cpu["collector"] = children_cpu_s() - collector_before
        done = max(outcome["rows"], 1)
        return {
            "agent_replicas": replicas,
            "replicated": ENVIRONMENTS[env][1],
            "rollouts_per_s": round(outcome["rows"] / outcome["wall_s"], 1),
            "cpu_ms_per_rollout": round(1000 * sum(cpu.values()) / done, 2),
            "cpu_ms_per_rollout_by_group": {group: round(1000 * value / done, 2) for group, value in cpu.items()},
            "rows_written": outcome["rows"],
            "failures": outcome["failures"],
            "mean_reward": outcome["metrics"].get("mean_reward"),
        }
    finally:
        stack.stop()


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--env", choices=sorted(ENVIRONMENTS), action="append")
    add_logs_argument(parser)
    args = parser.parse_args()
    logs = logs_folder(args, "scale_")
    rules = logs / "rules.json"
    rules.write_text(
        json.dumps([{"match": {"last_user_regex": "programming problem"}, "reply": {"content": CODE_ANSWER}}])
    )
    nodes = LocalRayNodes(nodes=2, cpus_per_node=4)
    upstream_port = free_port()
    upstream_process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nemo_gym.testing.scripted_upstream",
            "--port",
            str(upstream_port),
            "--rules",
            str(rules),
        ],
        stdout=(logs / "upstream.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    results: dict[str, list[dict]] = {}
    try:
        wait_healthy(f"http://127.0.0.1:{upstream_port}", upstream_process)
        nodes.start()
        upstream = psutil.Process(upstream_process.pid)
        upstream.port = upstream_port
        for env in args.env or list(ENVIRONMENTS):
            results[env] = [run_case(env, count, args.rows, nodes, upstream, logs) for count in args.replicas]
    finally:
        upstream_process.terminate()
        upstream_process.wait(timeout=30)
        nodes.stop()
    line = {
        "benchmark": "scale",
        "cluster": {"nodes": 2, "logical_cpus_per_node": 4, "same_machine": True},
        "rows": args.rows,
        "concurrency": CONCURRENCY,
        **results,
        "machine": machine(),
        "logs": str(logs),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
