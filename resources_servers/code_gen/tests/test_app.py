"""The code_gen server over HTTP, grading in Ray tasks."""

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import ray

from nemo_gym.server_utils import ensure_ray_initialized
from nemo_gym.testing.responses import user_message, verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.code_gen.app import CompCodingResourcesServer, CompCodingResourcesServerConfig

UNIT_TESTS = {"inputs": ["1 2\n", "10 -4\n", "0 0\n"], "outputs": ["3\n", "6\n", "0\n"], "fn_name": None}


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[None]:
    started_here = not ray.is_initialized()
    if started_here:
        ensure_ray_initialized(num_cpus=2)
    yield
    if started_here:
        ray.shutdown()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    config = CompCodingResourcesServerConfig(
        host="127.0.0.1",
        port=0,
        entrypoint="app.py",
        name="code_gen",
        domain="coding",
        num_processes=2,
        unit_test_timeout_secs=2,
        memory_limit_mb=256,
    )
    server = CompCodingResourcesServer(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as base_url:
        yield base_url


def answer(program: str) -> str:
    return f"Read both numbers and add them.\n\n```python\n{program}```\n"


def verify_body(text: str, unit_tests: dict[str, Any] | None = None) -> dict[str, Any]:
    return verify_request(
        text,
        input=[user_message("Add two integers.")],
        verifier_metadata={"unit_tests": unit_tests or UNIT_TESTS},
        hash_id="abc",
        dataset="example",
        source="handwritten",
    )


def verify(url: str, text: str, unit_tests: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = httpx.post(f"{url}/verify", json=verify_body(text, unit_tests), timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_correct_program_gets_reward_one(url: str) -> None:
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    body = verify(url, answer(program))
    assert body["reward"] == 1.0
    assert body["result"] == [True, True, True]
    assert body["extracted_model_code"] == program.rstrip("\n")
    assert body["extracted_model_output"].startswith("Read both numbers")
    assert body["unit_tests_time_taken"] > 0
    assert "verifier_metadata" not in body and "hash_id" not in body


def test_wrong_program_gets_zero_and_says_which_test_failed(url: str) -> None:
    body = verify(url, answer("a, b = map(int, input().split())\nprint(a - b)\n"))
    assert body["reward"] == 0.0
    assert body["result"] == [-2]
    assert body["metadata"]["error_message"] == "Wrong Answer"
    assert body["metadata"]["output"] == "-1\n"


def test_answer_without_a_code_block_gets_zero_without_running_anything(url: str) -> None:
    body = verify(url, "a, b = map(int, input().split())\nprint(a + b)")
    assert body["reward"] == 0.0
    assert body["extracted_model_code"] == ""
    assert body["result"] is None


def test_empty_answer_gets_zero(url: str) -> None:
    body = verify(url, "   ")
    assert (body["reward"], body["extracted_model_code"], body["result"]) == (0.0, None, None)


def test_infinite_loop_times_out(url: str) -> None:
    body = verify(url, answer("while True:\n    pass\n"))
    assert body["reward"] == 0.0
    assert body["result"] == [-3]
    assert body["unit_tests_time_taken"] < 10


def test_memory_hog_is_a_runtime_error(url: str) -> None:
    body = verify(url, answer("hog = bytearray(2 * 1024 ** 3)\n"))
    assert body["reward"] == 0.0
    assert body["result"] == [-4]
    assert "MemoryError" in body["metadata"]["error"]


def test_malformed_unit_tests_give_no_result(url: str) -> None:
    body = verify(url, answer("print(3)\n"), unit_tests={"inputs": ["1"], "outputs": []})
    assert body["reward"] == 0.0
    assert body["result"] == [-1]


async def test_many_submissions_are_graded_concurrently(url: str) -> None:
    good = answer("a, b = map(int, input().split())\nprint(a + b)\n")
    bad = answer("print(0)\n")
    texts = [good if index % 2 == 0 else bad for index in range(20)]
    async with aiohttp.ClientSession() as session:

        async def one(text: str) -> float:
            async with session.post(f"{url}/verify", json=verify_body(text)) as reply:
                assert reply.status == 200, await reply.text()
                return (await reply.json())["reward"]

        rewards = await asyncio.gather(*(one(text) for text in texts))
    assert rewards == [1.0 if index % 2 == 0 else 0.0 for index in range(20)]
