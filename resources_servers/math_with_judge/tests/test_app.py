"""The math_with_judge server over HTTP: Ray-parallel verification, the hard deadline and the LLM judge."""

import asyncio
import random
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import ray
from fastapi import FastAPI, Request

from nemo_gym.config_types import ModelServerRef
from nemo_gym.server_utils import ensure_ray_initialized
from nemo_gym.testing.responses import assistant_message, make_response, reasoning, user_message
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.math_with_judge.app import (
    LibraryJudgeMathResourcesServer,
    LibraryJudgeMathResourcesServerConfig,
)

HANGING_ANSWER = "The answer is \\boxed{9^{9^{9^{9}}}}"


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[None]:
    started_here = not ray.is_initialized()
    if started_here:
        ensure_ray_initialized(num_cpus=2)
    yield
    if started_here:
        ray.shutdown()


def verify_body(expected: str, generated: str, question: str = "What is the value?") -> dict[str, Any]:
    return {
        "responses_create_params": {"input": [user_message(question)]},
        "response": make_response([reasoning("\\boxed{999}"), assistant_message(generated)], id="resp_test"),
        "question": question,
        "expected_answer": expected,
    }


class FakeJudge:
    """A Responses-API model that answers each call with the next scripted verdict text."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.post("/v1/responses")(self.responses)

    async def responses(self, request: Request) -> dict[str, Any]:
        self.requests.append(await request.json())
        return make_response(self.replies.pop(0))


def build_server(judge_url: str | None = None, **fields: Any) -> LibraryJudgeMathResourcesServer:
    config = LibraryJudgeMathResourcesServerConfig(
        host="127.0.0.1", port=0, entrypoint="app.py", name="math_with_judge", domain="math", **fields
    )
    client = make_server_client({"judge_model": judge_url} if judge_url else {})
    return LibraryJudgeMathResourcesServer(config=config, server_client=client)


@pytest.fixture(scope="module")
def library_url() -> Iterator[str]:
    server = build_server(verify_timeout_secs=2.0, num_processes=4)
    with serve_app(server.setup_webserver()) as url:
        yield url


@pytest.fixture(scope="module")
def judge() -> Iterator[tuple[FakeJudge, str]]:
    fake = FakeJudge()
    with serve_app(fake.app) as judge_url:
        server = build_server(
            judge_url,
            should_use_judge=True,
            judge_model_server=ModelServerRef(name="judge_model"),
            judge_responses_create_params={"input": [], "temperature": 0.0},
        )
        with serve_app(server.setup_webserver()) as url:
            yield fake, url


def test_boxed_answer_gets_library_reward_and_the_response_shape(library_url: str) -> None:
    reply = httpx.post(f"{library_url}/verify", json=verify_body("8", "So we get \\boxed{8}."), timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["reward"], body["library_reward"], body["extracted_answer"]) == (1.0, 1.0, "8")
    assert body["expected_answer"] == "8"
    assert body["judge_evaluations"] is None
    assert "question" not in body
    assert body["response"]["id"] == "resp_test"


def test_reasoning_items_are_ignored(library_url: str) -> None:
    # The reasoning summary holds \boxed{999}; only message text counts.
    body = httpx.post(f"{library_url}/verify", json=verify_body("999", "I give up."), timeout=60).json()
    assert body["reward"] == 0.0


def test_a_hanging_answer_is_cut_off_at_the_deadline_and_scores_zero(library_url: str) -> None:
    httpx.post(f"{library_url}/verify", json=verify_body("1", "\\boxed{1}"), timeout=60)  # warm a worker
    started = time.monotonic()
    body = httpx.post(f"{library_url}/verify", json=verify_body("0.5", HANGING_ANSWER), timeout=60).json()
    elapsed = time.monotonic() - started
    assert (body["reward"], body["library_reward"], body["extracted_answer"]) == (0.0, 0.0, None)
    assert elapsed < 10.0  # math-verify alone would spend about 15 s in its own per-step timeouts
    after = httpx.post(f"{library_url}/verify", json=verify_body("0.5", "\\boxed{\\frac12}"), timeout=60).json()
    assert after["reward"] == 1.0


def make_answers(count: int) -> list[tuple[str, str, float]]:
    """(expected, generated, expected reward): fractions written several ways, a third of them wrong."""
    rng = random.Random(1234)
    answers = []
    for index in range(count):
        numerator, denominator = rng.randint(1, 97), rng.randint(2, 9)
        expected = f"\\frac{{{numerator}}}{{{denominator}}}"
        correct = index % 3 != 0
        shown_numerator = numerator if correct else numerator + 1
        styles = [
            f"Therefore the answer is \\boxed{{\\frac{{{shown_numerator}}}{{{denominator}}}}}.",
            f"Final answer: ${shown_numerator * 2}/{denominator * 2}$",
            f"We simplify and get \\boxed{{{shown_numerator}/{denominator}}}",
        ]
        answers.append((expected, styles[index % len(styles)], 1.0 if correct else 0.0))
    return answers


async def test_one_thousand_answers_are_verified_in_parallel_through_ray(library_url: str) -> None:
    answers = make_answers(1000)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def verify(expected: str, generated: str) -> float:
            async with session.post(f"{library_url}/verify", json=verify_body(expected, generated)) as reply:
                assert reply.status == 200, await reply.text()
                return (await reply.json())["reward"]

        started = time.monotonic()
        rewards = await asyncio.gather(*(verify(expected, generated) for expected, generated, _ in answers))
        elapsed = time.monotonic() - started
    print(f"\nverified {len(answers)} answers through Ray in {elapsed:.2f}s ({len(answers) / elapsed:.0f}/s)")
    assert rewards == [reward for _, _, reward in answers]


def test_judge_is_not_called_when_the_library_accepts(judge: tuple[FakeJudge, str]) -> None:
    fake, url = judge
    fake.requests.clear()
    body = httpx.post(f"{url}/verify", json=verify_body("8", "\\boxed{8}"), timeout=60).json()
    assert body["reward"] == 1.0 and body["judge_evaluations"] is None
    assert fake.requests == []


def test_judge_saying_not_equal_gives_zero_after_one_evaluation(judge: tuple[FakeJudge, str]) -> None:
    fake, url = judge
    fake.requests.clear()
    fake.replies[:] = ["They differ. [[A!=B]]"]
    body = httpx.post(f"{url}/verify", json=verify_body("x + 1", "1"), timeout=60).json()
    assert (body["reward"], body["library_reward"]) == (0.0, 0.0)
    assert len(body["judge_evaluations"]) == 1
    assert len(fake.requests) == 1


def test_judge_rescues_an_answer_only_when_equal_in_both_orders(judge: tuple[FakeJudge, str]) -> None:
    fake, url = judge
    fake.requests.clear()
    fake.replies[:] = ["Same value. [[A=B]]", "Same value. [[A=B]]"]
    generated = "Final answer: {7 / 5}"
    body = httpx.post(f"{url}/verify", json=verify_body("1.4", generated, "What is 7/5?"), timeout=60).json()
    assert (body["reward"], body["library_reward"]) == (1.0, 0.0)
    assert len(body["judge_evaluations"]) == 2
    first_prompt = fake.requests[0]["input"][1]["content"]
    second_prompt = fake.requests[1]["input"][1]["content"]
    assert first_prompt.index("1.4") < first_prompt.index(generated)  # A = expected, B = the full text
    assert second_prompt.index(generated) < second_prompt.index("1.4")  # swapped
    assert fake.requests[0]["temperature"] == 0.0
    assert body["judge_evaluations"][1]["response"]["output"][0]["content"][0]["text"] == "Same value. [[A=B]]"


def test_judge_disagreeing_after_the_swap_gives_zero(judge: tuple[FakeJudge, str]) -> None:
    fake, url = judge
    fake.replies[:] = ["[[A=B]]", "No. [[A!=B]]"]
    body = httpx.post(f"{url}/verify", json=verify_body("1.4", "Final answer: {7 / 5}"), timeout=60).json()
    assert body["reward"] == 0.0
    assert len(body["judge_evaluations"]) == 2


def test_judge_on_without_a_judge_model_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="judge_model_server is not set"):
        LibraryJudgeMathResourcesServerConfig(
            host="127.0.0.1", port=0, entrypoint="app.py", name="m", domain="math", should_use_judge=True
        )
