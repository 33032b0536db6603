"""The library_judge_math entrypoint starts the math_with_judge server under the historical instance name."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray

from nemo_gym.global_config import find_open_port
from nemo_gym.server_utils import ensure_ray_initialized
from nemo_gym.testing.responses import user_message, verify_request
from nemo_gym.testing.servers import run_entrypoint

FOLDER = Path(__file__).resolve().parents[1]


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
    with run_entrypoint(FOLDER, "library_judge_math", config) as (base_url, _):
        body = verify_request(
            "\\boxed{4}", input=[user_message("What is 2+2?")], question="What is 2+2?", expected_answer="4"
        )
        reply = httpx.post(f"{base_url}/verify", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.json()["reward"] == 1.0
        assert "LibraryJudgeMathResourcesServer___library_judge_math" in reply.headers["set-cookie"]
