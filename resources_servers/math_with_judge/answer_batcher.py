"""Answers that arrive together are checked together: a batch per Ray task, at most ``slots`` tasks in flight.

math-verify takes a few milliseconds per typical answer, about what one Ray task round trip costs, so one task
per answer would spend half the CPU on scheduling. Callers still await their own answer; a batch is formed
whenever a slot frees up, from whatever is waiting then, and spread evenly over the free slots.
"""

import asyncio
import logging
import math

import ray

from nemo_gym.server_utils import await_ray_task
from resources_servers.math_with_judge.answer_worker import AnswerCheck, check_answers_remote

logger = logging.getLogger(__name__)


class AnswerBatcher:
    def __init__(self, slots: int, max_batch: int, timeout_s: float, slack_s: float) -> None:
        self.slots = slots
        self.max_batch = max_batch
        self.timeout_s = timeout_s
        self.slack_s = slack_s
        self._semaphore = asyncio.Semaphore(slots)
        self._pending: list[tuple[str, str, asyncio.Future[AnswerCheck]]] = []
        self._draining = False

    async def check(self, expected_answer: str, generated_text: str) -> AnswerCheck:
        future: asyncio.Future[AnswerCheck] = asyncio.get_running_loop().create_future()
        self._pending.append((expected_answer, generated_text, future))
        if not self._draining:
            self._draining = True
            asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let answers arriving in the same instant join the first batch
            while self._pending:
                await self._semaphore.acquire()
                size = min(self.max_batch, max(1, math.ceil(len(self._pending) / self.slots)))
                batch, self._pending = self._pending[:size], self._pending[size:]
                asyncio.create_task(self._run(batch))
        finally:
            self._draining = False
            if self._pending:  # arrived after the loop ended
                self._draining = True
                asyncio.create_task(self._drain())

    async def _run(self, batch: list[tuple[str, str, asyncio.Future[AnswerCheck]]]) -> None:
        try:
            ref = check_answers_remote.remote([(expected, text) for expected, text, _ in batch], self.timeout_s)
            deadline = len(batch) * self.timeout_s + self.slack_s
            try:
                checks = await await_ray_task(ref, deadline)
            except TimeoutError:
                logger.warning(
                    "A math-verify task of %d answers did not finish within %.0fs; scoring 0", len(batch), deadline
                )
                checks = [AnswerCheck(0.0, None, "timeout", deadline)] * len(batch)
            except ray.exceptions.RayError as error:
                logger.warning(
                    "A math-verify task failed (%s); scoring its %d answers 0", type(error).__name__, len(batch)
                )
                checks = [AnswerCheck(0.0, None, "error", 0.0)] * len(batch)
            for (_, _, future), check in zip(batch, checks, strict=True):
                if not future.done():
                    future.set_result(check)
        finally:
            self._semaphore.release()
