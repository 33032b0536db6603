"""A running stack for end-to-end benchmarks: the scripted upstream and ng_run, each in its own process."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.harness import ROOT, free_port, server_names, tree_processes, wait_healthy, wait_until_idle

MODEL_CONFIG = "responses_api_models/vllm_model/configs/vllm_model.yaml"
READY_MARKS = ("servers ready", "Started Ray cluster")


class Stack:
    def __init__(self, env_config: str, logs: Path, latency_s: float = 0.0, overrides: tuple[str, ...] = ()) -> None:
        self.logs = logs
        self.head_port = free_port()
        self._server_names: dict[int, str] | None = None
        upstream_port = free_port()
        self.upstream = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nemo_gym.testing.scripted_upstream",
                "--port",
                str(upstream_port),
                "--latency",
                str(latency_s),
            ],
            stdout=(logs / "upstream.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_healthy(f"http://127.0.0.1:{upstream_port}", self.upstream)
        self.ng_run_log = logs / "ng_run.log"
        env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        self.ng_run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from nemo_gym.cli.run import main; main()",
                f"+config_paths=[{env_config},{MODEL_CONFIG}]",
                f"+head_server.port={self.head_port}",
                f"+policy_base_url=http://127.0.0.1:{upstream_port}/v1",
                "+policy_api_key=EMPTY",
                "+policy_model_name=scripted",
                *overrides,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.ng_run_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        # measurements start once the servers are ready and the run's Ray cluster (which comes up behind them)
        # has started and gone quiet: its start-up is not part of any rollout's cost
        while not all(mark in self.ng_run_log.read_text(errors="replace") for mark in READY_MARKS):
            if self.ng_run.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.ng_run_log.read_text(errors="replace"))
            time.sleep(0.1)
        wait_until_idle(self.ng_run.pid)

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(self.upstream.pid), *tree_processes(self.ng_run.pid)]

    def _known_roles(self) -> dict[int, str]:
        """``pid -> role`` of the upstream, ng_run and each server (asked of the head server once)."""
        if self._server_names is None:
            self._server_names = server_names(self.head_port)
        return {self.upstream.pid: "upstream", self.ng_run.pid: "ng_run", **self._server_names}

    def cpu_by_process(self) -> dict[int, tuple[str, float]]:
        """Per pid: its role (``upstream``, ``ng_run``, ``ray`` or the server instance it serves) and CPU seconds."""
        roles = self._known_roles()
        found = {}
        for process in self.processes():
            try:
                times = process.cpu_times()
                role = roles.get(process.pid) or _role(process)
            except psutil.Error:
                continue
            found[process.pid] = (role, times.user + times.system)
        return found

    def peak_rss_mb(self) -> dict[str, float]:
        named = self._known_roles()
        peaks = {}
        for process in self.processes():
            try:
                name = named.get(process.pid) or " ".join(process.cmdline()[-2:])[-60:]
                peaks[f"{process.pid} {name}"] = round(process.memory_info().rss / 2**20, 1)
            except psutil.NoSuchProcess:
                pass
        return peaks

    def collect(self, agent: str, input_path: Path, output_path: Path, parallel: int | None) -> dict:
        """Run ng_collect_rollouts against the stack; wall time, its own CPU time and failures."""
        command = [
            sys.executable,
            "-c",
            "from nemo_gym.cli.rollouts import collect_main; collect_main()",
            f"+agent_name={agent}",
            f"+input_jsonl_fpath={input_path}",
            f"+output_jsonl_fpath={output_path}",
            f"+head_server.port={self.head_port}",
            "+overwrite=true",
            "+progress_bar=false",
        ]
        if parallel:
            command.append(f"+num_samples_in_parallel={parallel}")
        started = time.monotonic()
        log_path = self.logs / f"collect_{output_path.stem}.log"
        with log_path.open("wb") as log:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its "Found N rows" line marks the end of start-up
            process = psutil.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
            peak = 0
            startup_cpu = None
            while process.poll() is None:
                try:
                    peak = max(peak, process.memory_info().rss)
                    if startup_cpu is None and b"Found " in log_path.read_bytes():
                        times = process.cpu_times()
                        startup_cpu = times.user + times.system
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.02 if startup_cpu is None else 0.2)
        wall = time.monotonic() - started
        failures_path = Path(f"{output_path}.failures.jsonl")
        failures = sum(1 for _ in failures_path.open()) if failures_path.exists() else 0
        rows = sum(1 for _ in output_path.open()) if output_path.exists() else 0
        metrics_path = Path(f"{output_path}.metrics.json")
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        return {
            "wall_s": wall,
            "rows": rows,
            "failures": failures,
            "exit_code": process.returncode,
            "collector_peak_rss_mb": round(peak / 2**20, 1),
            "collector_startup_cpu_s": startup_cpu,
            "metrics": metrics,
        }

    def stop(self) -> None:
        for process in (self.ng_run, self.upstream):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.ng_run, self.upstream):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _role(process: psutil.Process) -> str:
    """A process of ng_run's tree that is not one of its servers: the preloader, or one of Ray's."""
    try:
        return "preloader" if "nemo_gym.runtime.preload" in " ".join(process.cmdline()) else "ray"
    except psutil.Error:
        return "ray"


def cpu_seconds_by_role(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict:
    """CPU seconds spent between two :meth:`Stack.cpu_by_process` snapshots, summed per role."""
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        previous = before.get(pid)
        spent[role] = spent.get(role, 0.0) + seconds - (previous[1] if previous else 0.0)
    return spent


def children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children (each collector run, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def repeat_rows(source: Path, target: Path, count: int) -> None:
    rows = [line for line in source.read_text().splitlines() if line.strip()]
    with target.open("w") as handle:
        for index in range(count):
            handle.write(rows[index % len(rows)] + "\n")
