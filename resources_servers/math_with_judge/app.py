"""math_with_judge (historically library_judge_math): single-turn math answers scored with math-verify.

Each answer is checked in a Ray task (``scheduling_strategy="SPREAD"``) behind an asyncio semaphore, under a hard
per-answer deadline. Optionally, answers that math-verify rejects get a second chance from an LLM judge that
must call them equivalent to the expected answer in both orders.
"""

import logging
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseRunRequest,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)
from nemo_gym.config_types import ModelServerRef
from nemo_gym.openai_utils import NeMoGymResponse, NeMoGymResponseCreateParamsNonStreaming
from nemo_gym.server_utils import ensure_ray_initialized
from resources_servers.math_with_judge.answer_batcher import AnswerBatcher
from resources_servers.math_with_judge.answer_worker import HELPER_STARTUP_TIMEOUT_S, AnswerCheck
from resources_servers.math_with_judge.judge import build_judge_request, judged_equal

logger = logging.getLogger(__name__)

# Slack on top of the per-answer deadline before the server gives up on a Ray task altogether (a wedged or lost
# worker): time to queue behind other work on the cluster and to (re)start the worker's math-verify helper.
TASK_DEADLINE_SLACK_S = HELPER_STARTUP_TIMEOUT_S + 60.0


class LibraryJudgeMathResourcesServerConfig(BaseResourcesServerConfig):
    judge_model_server: ModelServerRef | None = None
    judge_responses_create_params: NeMoGymResponseCreateParamsNonStreaming = Field(
        default_factory=lambda: NeMoGymResponseCreateParamsNonStreaming(input=[])
    )
    should_use_judge: bool = False
    # How many answers are checked at once (Ray tasks in flight from this server).
    num_processes: int = Field(default=8, ge=1)
    # Hard deadline for checking one answer; an answer that takes longer scores 0.
    verify_timeout_secs: float = Field(default=10.0, gt=0)
    # At most this many answers per Ray task (answers arriving together share a task and its round trip).
    verify_batch_size: int = Field(default=32, ge=1)

    @model_validator(mode="after")
    def _judge_needs_a_model(self) -> "LibraryJudgeMathResourcesServerConfig":
        if self.should_use_judge and self.judge_model_server is None:
            raise ValueError("should_use_judge is true but judge_model_server is not set")
        return self


class LibraryJudgeMathRunRequest(BaseRunRequest):
    question: str = ""
    expected_answer: str


class LibraryJudgeMathVerifyRequest(LibraryJudgeMathRunRequest, BaseVerifyRequest):
    pass


class JudgeEvaluation(BaseVerifyRequest):
    """One judge call: the ``responses_create_params`` sent and the ``response`` that came back."""


class LibraryJudgeMathVerifyResponse(BaseVerifyResponse):
    expected_answer: str
    extracted_answer: str | None = None
    library_reward: float
    judge_evaluations: list[JudgeEvaluation] | None = None


class LibraryJudgeMathResourcesServer(SimpleResourcesServer):
    config: LibraryJudgeMathResourcesServerConfig

    _batcher: AnswerBatcher | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        # Connects to ng_run's cluster when one is configured, else starts a local one (a standalone server).
        ensure_ray_initialized()

    async def verify(self, body: LibraryJudgeMathVerifyRequest) -> LibraryJudgeMathVerifyResponse:
        generated_text = body.response.output_text
        check = await self.check_answer(body.expected_answer, generated_text)
        library_reward = check.reward
        judge_evaluations = None
        reward = library_reward
        if self.config.should_use_judge and library_reward <= 0.5:
            reward, judge_evaluations = await self.judge(body.question, body.expected_answer, generated_text)
        return LibraryJudgeMathVerifyResponse.model_construct(
            responses_create_params=body.responses_create_params,
            response=body.response,
            reward=reward,
            expected_answer=body.expected_answer,
            extracted_answer=check.extracted_answer,
            library_reward=library_reward,
            judge_evaluations=judge_evaluations,
        )

    async def check_answer(self, expected_answer: str, generated_text: str) -> AnswerCheck:
        """math-verify in a Ray task (batched with answers arriving alongside); 0 past ``verify_timeout_secs``."""
        if self._batcher is None:
            self._batcher = AnswerBatcher(
                slots=self.config.num_processes,
                max_batch=self.config.verify_batch_size,
                timeout_s=self.config.verify_timeout_secs,
                slack_s=TASK_DEADLINE_SLACK_S,
            )
        return await self._batcher.check(expected_answer, generated_text)

    async def judge(
        self, question: str, expected_answer: str, generated_text: str
    ) -> tuple[float, list[JudgeEvaluation]]:
        """Expected vs. the full generated text, then swapped; 1.0 only if the judge says equal both times."""
        first = await self._ask_judge(question, expected_answer, generated_text)
        if not judged_equal(first[1]):
            return 0.0, [first[0]]
        second = await self._ask_judge(question, generated_text, expected_answer)
        return (1.0 if judged_equal(second[1]) else 0.0), [first[0], second[0]]

    async def _ask_judge(
        self, question: str, first_answer: str, second_answer: str
    ) -> tuple[JudgeEvaluation, dict[str, Any]]:
        assert self.config.judge_model_server is not None  # guaranteed by the config validator
        base_params = self.config.judge_responses_create_params.model_dump(exclude_unset=True)
        params = build_judge_request(base_params, question, first_answer, second_answer)
        raw = await self.server_client.create_response(self.config.judge_model_server, params)
        evaluation = JudgeEvaluation(
            responses_create_params=NeMoGymResponseCreateParamsNonStreaming.model_validate(params),
            response=NeMoGymResponse.model_validate(raw),
        )
        return evaluation, raw


if __name__ == "__main__":
    LibraryJudgeMathResourcesServer.run_webserver()
