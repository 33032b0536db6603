"""The library_judge_math entrypoint starts the math_with_judge server under the historical instance name."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray
import yaml

from nemo_gym.global_config import find_open_port
from nemo_gym.runtime.ray_setup import ensure_ray_initialized
from nemo_gym.testing.responses import user_message, verify_request

FOLDER = Path(__file__).resolve().parents[1]
REPO_ROOT = FOLDER.parents[1]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    started_here = not ray.is_initialized()
    if started_here:
        ensure_ray_initialized(num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    if started_here:
        ray.shutdown()


def test_alias_entrypoint_serves_math_with_judge(ray_address: str) -> None:
    port = find_open_port()
    config = {
        "ray_head_node_address": ray_address,
        "library_judge_math": {
            "resources_servers": {
                "library_judge_math": {
                    "host": "127.0.0.1",
                    "port": port,
                    "entrypoint": "app.py",
                    "domain": "math",
                    "verify_timeout_secs": 10,
                }
            }
        },
    }
    env = {
        **os.environ,
        "NEMO_GYM_CONFIG_DICT": yaml.safe_dump(config),
        "NEMO_GYM_CONFIG_PATH": "library_judge_math",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=FOLDER, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")[-2000:]
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the alias server did not become healthy within 60s"
            time.sleep(0.1)
        body = verify_request(
            "\\boxed{4}", input=[user_message("What is 2+2?")], question="What is 2+2?", expected_answer="4"
        )
        reply = httpx.post(f"{base_url}/verify", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.json()["reward"] == 1.0
        assert "LibraryJudgeMathResourcesServer___library_judge_math" in reply.headers["set-cookie"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
