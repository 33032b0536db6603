"""equivalence_llm_judge: an LLM judge decides whether the answer is equivalent to the expected one."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseRunRequest,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)
from nemo_gym.config_types import ModelServerRef
from nemo_gym.openai_utils import NeMoGymResponseCreateParamsNonStreaming
from resources_servers.equivalence_llm_judge.grading import (
    DEFAULT_EQUAL_LABEL,
    DEFAULT_NOT_EQUAL_LABEL,
    EquivalenceSettings,
    JudgeOutcome,
    build_judge_input,
    extract_question,
    grade_equivalence,
    last_assistant_text,
    parse_verdict,
)


class LLMJudgeResourcesServerConfig(BaseResourcesServerConfig):
    name: str = "equivalence_llm_judge"
    judge_model_server: ModelServerRef
    judge_responses_create_params: NeMoGymResponseCreateParamsNonStreaming
    judge_system_message: str | None = None
    judge_prompt_template: str
    judge_equal_label: str = DEFAULT_EQUAL_LABEL
    judge_not_equal_label: str = DEFAULT_NOT_EQUAL_LABEL
    question_extract_regex: str | None = None
    response_extract_regex: str | None = None
    check_twice_swap: bool = False
    reward_if_swap_fails: float = 0.0
    use_per_record_regex: bool = True
    extraction_length_threshold: int = 120
    check_full_generation_on_fail: bool = True
    reward_if_full_generation_succeeds: float = 0.5


class LLMJudgeRunRequest(BaseRunRequest):
    model_config = ConfigDict(extra="allow")

    uuid: str | int | None = None
    expected_answer: str | int | float | None = None
    options: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None


class LLMJudgeVerifyRequest(LLMJudgeRunRequest, BaseVerifyRequest):
    pass


class JudgeEvaluation(BaseModel):
    responses_create_params: dict[str, Any]
    response: Any
    verdict_label: str | None = None


class LLMJudgeVerifyResponse(BaseVerifyResponse):
    expected_answer: str
    judge_evaluations: list[JudgeEvaluation]


def _expected_answer(body: LLMJudgeVerifyRequest) -> str:
    if body.expected_answer is not None:
        return str(body.expected_answer)
    from_metadata = (body.metadata or {}).get("expected_answer")
    return "" if from_metadata is None else str(from_metadata)


def _record_regex(body: LLMJudgeVerifyRequest) -> str | None:
    template_metadata = getattr(body, "template_metadata", None)  # an extra field of the row
    if isinstance(template_metadata, dict):
        regex = template_metadata.get("output_regex")
        return regex if isinstance(regex, str) and regex else None
    return None


class LLMJudgeResourcesServer(SimpleResourcesServer):
    config: LLMJudgeResourcesServerConfig

    def _settings(self) -> EquivalenceSettings:
        config = self.config
        return EquivalenceSettings(
            check_twice_swap=config.check_twice_swap,
            reward_if_swap_fails=config.reward_if_swap_fails,
            use_per_record_regex=config.use_per_record_regex,
            extraction_length_threshold=config.extraction_length_threshold,
            check_full_generation_on_fail=config.check_full_generation_on_fail,
            reward_if_full_generation_succeeds=config.reward_if_full_generation_succeeds,
            response_extract_regex=config.response_extract_regex,
        )

    async def _judge(self, question: str, expected_answer: str, generated_answer: str) -> JudgeOutcome:
        """One judge call; a judge that answers with an error status fails the verify call (it is not a verdict)."""
        config = self.config
        params = config.judge_responses_create_params.model_dump(exclude_unset=True, mode="json")
        params["input"] = build_judge_input(
            config.judge_prompt_template, config.judge_system_message, question, expected_answer, generated_answer
        )
        judge_response = await self.server_client.create_response(config.judge_model_server, params)
        is_equal, label = parse_verdict(judge_response, config.judge_equal_label, config.judge_not_equal_label)
        evaluation = JudgeEvaluation(responses_create_params=params, response=judge_response, verdict_label=label)
        return JudgeOutcome(is_equal=is_equal, evaluation=evaluation)

    async def verify(self, body: LLMJudgeVerifyRequest) -> LLMJudgeVerifyResponse:
        expected = _expected_answer(body)
        result = await grade_equivalence(
            question=extract_question(body.responses_create_params, self.config.question_extract_regex),
            expected=expected,
            full_text=last_assistant_text(body.response),
            record_regex=_record_regex(body),
            settings=self._settings(),
            judge=self._judge,
        )
        return LLMJudgeVerifyResponse.from_request(
            body,
            reward=result.reward,
            expected_answer=expected,
            judge_evaluations=result.evaluations,
        )


if __name__ == "__main__":
    LLMJudgeResourcesServer.run_webserver()
