"""instruction_following: reward = how well the answer follows IFEval-style verifiable instructions."""

from __future__ import annotations

from typing import Any, Literal

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseRunRequest,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)
from resources_servers.instruction_following.grading import grade, response_text

GradingMode = Literal["binary", "fraction"]


class InstructionFollowingResourcesServerConfig(BaseResourcesServerConfig):
    pass


class InstructionFollowingRunRequest(BaseRunRequest):
    id: int | str | None = None
    instruction_id_list: list[str]
    prompt: str = ""
    kwargs: list[dict[str, Any] | None]
    grading_mode: GradingMode = "binary"


class InstructionFollowingVerifyRequest(InstructionFollowingRunRequest, BaseVerifyRequest):
    pass


class InstructionFollowingVerifyResponse(BaseVerifyResponse):
    follow_all_instructions: bool
    follow_instruction_list: list[bool]
    kwargs: list[dict[str, Any] | None]
    instruction_id_list: list[str]
    prompt: str
    grading_mode: GradingMode


class InstructionFollowingResourcesServer(SimpleResourcesServer):
    config: InstructionFollowingResourcesServerConfig

    async def verify(self, body: InstructionFollowingVerifyRequest) -> InstructionFollowingVerifyResponse:
        result = grade(response_text(body.response), body.instruction_id_list, body.kwargs, body.grading_mode)
        return InstructionFollowingVerifyResponse.from_request(
            body,
            reward=result.reward,
            follow_all_instructions=result.follow_all_instructions,
            follow_instruction_list=result.follow_instruction_list,
            kwargs=body.kwargs,
            instruction_id_list=body.instruction_id_list,
            prompt=body.prompt,
            grading_mode=body.grading_mode,
        )


if __name__ == "__main__":
    InstructionFollowingResourcesServer.run_webserver()
