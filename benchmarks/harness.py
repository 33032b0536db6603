"""What every benchmark shares: the machine description, server subprocesses and a small load generator."""

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil

from nemo_gym.config.ports import find_open_port

ROOT = Path(__file__).resolve().parents[1]


def add_logs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logs", type=Path, help="folder for the logs and outputs (default: a new one in /tmp)")


def logs_folder(args: argparse.Namespace, prefix: str) -> Path:
    """The run's log folder: ``--logs`` (created if missing) or a new temporary folder named ``prefix*``."""
    if args.logs is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    args.logs.mkdir(parents=True, exist_ok=True)
    return args.logs


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: version(name) for name in ("fastapi", "uvicorn", "aiohttp", "ray", "openai")},
    }


def wait_healthy(url: str, process: subprocess.Popen | None = None, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not healthy after {timeout_s}s")


@contextmanager
def python_process(code: str, port: int, log_path: Path):
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process)
            yield process
        finally:
            process.terminate()
            process.wait(timeout=15)


async def load(url: str, body: dict, total: int, concurrency: int) -> dict[str, Any]:
    """POST ``body`` ``total`` times with ``concurrency`` in flight; latency percentiles and throughput."""
    latencies: list[float] = []
    errors = 0
    payload = json.dumps(body).encode()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                try:
                    async with session.post(url, data=payload, headers={"content-type": "application/json"}) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": total,
        "errors": errors,
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def free_port() -> int:
    return find_open_port()


def server_names(head_port: int) -> dict[int, str]:
    """``pid -> instance name`` of ng_run's servers, from its head server (``/server_instances``).

    The head server knows each server's pid however it was started (forked from the preloader or not), where
    a process's environment as /proc shows it is the one it was created with.
    """
    records = httpx.get(f"http://127.0.0.1:{head_port}/server_instances", timeout=10).json()
    return {record["pid"]: record["process_name"] for record in records if record.get("pid")}


def tree_processes(root_pid: int) -> list[psutil.Process]:
    """A process, its descendants, and the other members of its descendants' process groups.

    The Ray head that ng_run starts leaves its processes (GCS, raylet, dashboard, agents) in the process group
    of the shell that holds it, but not as its descendants (``ray start`` exits once they run).
    """
    root = psutil.Process(root_pid)
    found = {process.pid: process for process in [root, *root.children(recursive=True)]}
    groups = {_pgid(pid) for pid in found} - {_pgid(root_pid), None}
    if groups:
        for process in psutil.process_iter():
            if process.pid not in found and _pgid(process.pid) in groups:
                found[process.pid] = process
    return list(found.values())


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def tree_memory(root_pid: int, names: dict[int, str] | None = None) -> dict[str, Any]:
    """RSS and PSS (MiB) of a process and all its descendants, per process and summed; Ray's processes apart.

    PSS shares each page among the processes that map it, so the per-process figures add up to what the tree
    really costs the machine (RSS counts shared libraries once per process).
    """
    processes = tree_processes(root_pid)
    ray_pids: set[int] = set()
    for process in processes:
        try:
            if "ray.scripts.scripts" in " ".join(process.cmdline()):
                ray_group = os.getpgid(process.pid)
                ray_pids |= {other.pid for other in processes if _pgid(other.pid) == ray_group}
        except (psutil.Error, OSError):
            pass
    rows = []
    for process in processes:
        try:
            info = process.memory_full_info()
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        name = (names or {}).get(process.pid) or _process_label(process, cmdline)
        rows.append(
            {
                "pid": process.pid,
                "name": name,
                "ray": process.pid in ray_pids,
                "rss_mib": round(info.rss / 2**20, 1),
                "pss_mib": round(info.pss / 2**20, 1),
            }
        )
    total = round(sum(row["pss_mib"] for row in rows), 1)
    ray_total = round(sum(row["pss_mib"] for row in rows if row["ray"]), 1)
    return {
        "pss_mib_total": total,
        "pss_mib_ray": ray_total,
        "pss_mib_without_ray": round(total - ray_total, 1),
        "processes": rows,
    }


def _process_label(process: psutil.Process, cmdline: list[str]) -> str:
    environ_name = None
    try:
        environ_name = process.environ().get("NEMO_GYM_CONFIG_PATH")
    except psutil.Error:
        pass
    if environ_name and "ray" not in process.name():
        return environ_name
    joined = " ".join(cmdline)
    if "nemo_gym.runtime.preload" in joined:
        return "preloader"
    if "ray.scripts.scripts" in joined:  # before the markers: its flags name the dashboard
        return "ray start"
    for marker in ("gcs_server", "raylet", "dashboard", "runtime_env", "log_monitor", "ray_client_server", "monitor"):
        if marker in joined:
            return marker
    if "default_worker" in joined:
        return "ray worker"
    return process.name() if process.pid != os.getpid() else "benchmark"


def wait_until_idle(root_pid: int, timeout_s: float = 60.0) -> None:
    """Until a process tree (with its process groups) uses under 5% of a core over half a second."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = _tree_cpu(tree_processes(root_pid))
        time.sleep(0.5)
        if _tree_cpu(tree_processes(root_pid)) - before < 0.025:
            return


def _tree_cpu(processes: list) -> float:
    total = 0.0
    for process in processes:
        try:
            total += sum(process.cpu_times()[:2])
        except psutil.Error:
            pass
    return total
