"""code_gen (historically comp_coding): competitive-programming answers run against their unit tests.

The program is the last fenced code block of the model's answer. It runs in a Ray task
(``scheduling_strategy="SPREAD"``) behind an asyncio semaphore; the task starts one confined interpreter per
test (see ``sandbox.py``). The reward is 1.0 if and only if every test passes.
"""

import asyncio
import logging
import time
from typing import Any

import ray
from pydantic import Field, PrivateAttr

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseRunRequest,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)
from nemo_gym.server_utils import await_ray_task, ensure_ray_initialized
from resources_servers.code_gen.code_extraction import extract_code
from resources_servers.code_gen.unit_tests import NO_RESULT, PASSED, check_correctness_remote, parse_unit_tests

logger = logging.getLogger(__name__)

# Extra time before the server gives up on a Ray task altogether (queueing on a busy cluster, a lost worker).
TASK_DEADLINE_SLACK_S = 60.0


class CompCodingResourcesServerConfig(BaseResourcesServerConfig):
    # How many submissions are graded at once (Ray tasks in flight from this server).
    num_processes: int = Field(default=8, ge=1)
    # Wall-clock and CPU limit for one test case.
    unit_test_timeout_secs: float = Field(default=10, gt=0)
    # Log every test's outcome and put the failing test's stderr in the metadata.
    debug: bool = False
    # Address-space limit of the interpreter that runs one test case.
    memory_limit_mb: int = Field(default=1024, ge=64)
    # The Python that runs the programs (default: the server's). When the server runs as root, programs run as
    # ``nobody`` if that user can read this interpreter, so point this at e.g. /usr/bin/python3 if the server's
    # Python lives under /root.
    python_executable: str | None = None


class CompCodingRunRequest(BaseRunRequest):
    verifier_metadata: dict[str, Any] = Field(default_factory=dict)


class CompCodingVerifyRequest(CompCodingRunRequest, BaseVerifyRequest):
    pass


class CompCodingVerifyResponse(BaseVerifyResponse):
    extracted_model_output: str | None = None
    extracted_model_code: str | None = None
    result: list[bool | int] | None = None
    metadata: dict[str, Any] | None = None
    unit_tests_time_taken: float | None = None


class CompCodingResourcesServer(SimpleResourcesServer):
    config: CompCodingResourcesServerConfig

    _semaphore: asyncio.Semaphore = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._semaphore = asyncio.Semaphore(self.config.num_processes)
        # Connects to ng_run's cluster when one is configured, else starts a local one (a standalone server).
        ensure_ray_initialized()

    async def verify(self, body: CompCodingVerifyRequest) -> CompCodingVerifyResponse:
        model_output = body.response.output_text
        reply = CompCodingVerifyResponse.model_construct(
            responses_create_params=body.responses_create_params,
            response=body.response,
            reward=0.0,
            extracted_model_output=model_output,
            extracted_model_code=None,
            result=None,
            metadata=None,
            unit_tests_time_taken=None,
        )
        if not model_output.strip():
            return reply
        code = extract_code(model_output)
        reply.extracted_model_code = code
        if not code.strip():
            return reply
        unit_tests = body.verifier_metadata.get("unit_tests")
        started = time.monotonic()
        results, metadata = await self.run_unit_tests(unit_tests, code)
        reply.unit_tests_time_taken = time.monotonic() - started
        reply.result = results
        reply.metadata = metadata
        reply.reward = 1.0 if results and all(result is PASSED for result in results) else 0.0
        return reply

    async def run_unit_tests(self, unit_tests: Any, code: str) -> tuple[list[bool | int], dict[str, Any]]:
        timeout_s = self.config.unit_test_timeout_secs
        try:
            num_tests = len(parse_unit_tests(unit_tests)[0])
        except (ValueError, TypeError):
            num_tests = 1  # the task reports the parse error itself
        # Every test may use its full limit plus interpreter start-up; beyond that the task is lost.
        deadline_s = (timeout_s + 2) * num_tests + TASK_DEADLINE_SLACK_S
        async with self._semaphore:
            ref = check_correctness_remote.remote(
                unit_tests,
                code,
                timeout_s,
                self.config.memory_limit_mb,
                self.config.debug,
                self.config.python_executable,
            )
            try:
                return await await_ray_task(ref, deadline_s)
            except TimeoutError:
                logger.warning("A code_gen task did not finish within %.0fs; every test counts as -1", deadline_s)
                return [NO_RESULT] * num_tests, {
                    "error": f"no result within {deadline_s:.0f}s",
                    "error_code": NO_RESULT,
                }
            except ray.exceptions.RayError as error:
                logger.warning("A code_gen task failed: %s", error)
                return [NO_RESULT] * num_tests, {"error": f"the grading task failed: {type(error).__name__}"}


if __name__ == "__main__":
    CompCodingResourcesServer.run_webserver()
