"""Math answers verified per second: math_with_judge's Ray path on this machine's cores vs. one process serially.

    python benchmarks/verify.py [--answers 1000] [--words 400]

Each answer is a model-like solution of about ``--words`` words of working ending in a boxed fraction (a third
of them wrong), so parsing dominates as it does with real outputs. The Ray path is the server's own
``check_answer`` (SPREAD tasks behind its semaphore, awaited off the event loop, per-answer deadline). Prints
one JSON line with both rates and their ratio.
"""

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time

import ray

from benchmarks.harness import machine
from nemo_gym.testing.servers import make_server_client
from resources_servers.math_with_judge.app import (
    LibraryJudgeMathResourcesServer,
    LibraryJudgeMathResourcesServerConfig,
)
from resources_servers.math_with_judge.math_check import check_answer


def make_answers(count: int, words: int) -> list[tuple[str, str]]:
    rng = random.Random(7)
    filler = "so we substitute x and simplify both sides of the equation carefully step by step".split()
    answers = []
    for index in range(count):
        numerator, denominator = rng.randint(1, 97), rng.randint(2, 9)
        shown = numerator if index % 3 else numerator + 1
        working = " ".join(rng.choice(filler) for _ in range(words))
        steps = f"$$\\frac{{{shown * 3}}}{{{denominator * 3}}} = \\frac{{{shown}}}{{{denominator}}}$$"
        answers.append(
            (
                f"\\frac{{{numerator}}}{{{denominator}}}",
                f"{working} {steps} Therefore \\boxed{{\\frac{{{shown}}}{{{denominator}}}}}.",
            )
        )
    return answers


async def through_ray(server: LibraryJudgeMathResourcesServer, answers: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    checks = await asyncio.gather(*(server.check_answer(expected, text) for expected, text in answers))
    elapsed = time.perf_counter() - started
    assert sum(check.reward for check in checks) == sum(1 for index in range(len(answers)) if index % 3)
    return elapsed


async def ray_run(config: LibraryJudgeMathResourcesServerConfig, answers: list[tuple[str, str]]) -> float:
    server = LibraryJudgeMathResourcesServer(config=config, server_client=make_server_client())
    await through_ray(server, answers[:50])  # warm the workers and their helper processes
    return await through_ray(server, answers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--words", type=int, default=400)
    args = parser.parse_args()
    answers = make_answers(args.answers, args.words)

    started = time.perf_counter()
    serial_rewards = [check_answer(expected, text)[0] for expected, text in answers]
    serial_s = time.perf_counter() - started
    assert sum(serial_rewards) == sum(1 for index in range(len(answers)) if index % 3)

    # a cluster of its own, with its files in a folder of its own (removed afterwards), not in /tmp/ray
    ray_folder = tempfile.mkdtemp(prefix="nemo_gym_verify_")
    ray.init(address="local", include_dashboard=False, logging_level="ERROR", _temp_dir=ray_folder)
    try:
        config = LibraryJudgeMathResourcesServerConfig(
            host="127.0.0.1", port=0, entrypoint="app.py", name="math", domain="math"
        )
        ray_s = asyncio.run(ray_run(config, answers))
    finally:
        ray.shutdown()
        shutil.rmtree(ray_folder, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "verify",
                "answers": args.answers,
                "words_per_answer": args.words,
                "serial_answers_per_s": round(args.answers / serial_s, 1),
                "ray_answers_per_s": round(args.answers / ray_s, 1),
                "ratio_ray_to_serial": round(serial_s / ray_s, 2),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
