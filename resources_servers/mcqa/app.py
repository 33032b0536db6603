"""mcqa: reward = the predicted option letter equals the gold letter."""

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
from resources_servers.mcqa.grading import (
    DEFAULT_GRADING_MODE,
    GradingMode,
    assistant_text,
    extract_prediction,
    reward_for,
)


class MCQAResourcesServerConfig(BaseResourcesServerConfig):
    pass


class TemplateMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    output_regex: str | None = None


class MCQARunRequest(BaseRunRequest):
    uuid: str | None = None
    options: list[dict[str, Any]] | None = None
    expected_answer: str | None = None
    metadata: dict[str, Any] | None = None
    grading_mode: GradingMode = DEFAULT_GRADING_MODE
    template_metadata: TemplateMetadata | None = None


class MCQAVerifyRequest(MCQARunRequest, BaseVerifyRequest):
    pass


class MCQAVerifyResponse(BaseVerifyResponse):
    expected_answer: str
    extracted_answer: str | None


class MCQAResourcesServer(SimpleResourcesServer):
    config: MCQAResourcesServerConfig

    async def verify(self, body: MCQAVerifyRequest) -> MCQAVerifyResponse:
        output_regex = body.template_metadata.output_regex if body.template_metadata else None
        predicted = extract_prediction(assistant_text(body.response), body.options, body.grading_mode, output_regex)
        gold = (body.expected_answer or "").strip().upper()
        return MCQAVerifyResponse.from_request(
            body,
            reward=reward_for(predicted, gold),
            expected_answer=gold,
            extracted_answer=predicted,
        )


if __name__ == "__main__":
    MCQAResourcesServer.run_webserver()
