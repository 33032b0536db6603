"""openai_model: a pass-through to an OpenAI-compatible endpoint that serves the Responses API natively."""

from typing import Any

from fastapi import Body, Request

from nemo_gym.base_responses_api_model import BaseResponsesAPIModelConfig, SimpleResponsesAPIModel
from nemo_gym.openai_utils import (
    NeMoGymAsyncOpenAI,
    NeMoGymChatCompletion,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymResponse,
    NeMoGymResponseCreateParamsNonStreaming,
)
from nemo_gym.server_utils import default_retry_policy


class SimpleModelServerConfig(BaseResponsesAPIModelConfig):
    openai_base_url: str
    openai_api_key: str
    openai_model: str
    # max_concurrent_requests (the base config's): an opt-in cap on in-flight upstream calls, e.g. to stay under a
    # provider's concurrency limit; request_timeout_s: per-attempt timeout (default: the http_client policy's).
    default_headers: dict[str, str] | None = None


class SimpleModelServer(SimpleResponsesAPIModel):
    config: SimpleModelServerConfig

    def model_post_init(self, context: Any) -> None:
        timeout_s = self.config.request_timeout_s
        policy = default_retry_policy().with_overrides(request_timeout_s=timeout_s) if timeout_s else None
        self._client = NeMoGymAsyncOpenAI(
            self.config.openai_base_url, self.config.openai_api_key, self.config.default_headers, retry_policy=policy
        )

    async def responses(
        self, request: Request, body: NeMoGymResponseCreateParamsNonStreaming = Body()
    ) -> NeMoGymResponse:
        params = body.model_dump(exclude_unset=True)
        params["model"] = self.config.openai_model
        async with self.upstream_slot():
            result = await self._client.create_response(**params)
        # Validated so that unsupported output items fail here, with a clear message, not in the agent.
        return NeMoGymResponse.model_validate(result)

    async def chat_completions(
        self, request: Request, body: NeMoGymChatCompletionCreateParamsNonStreaming = Body()
    ) -> NeMoGymChatCompletion:
        params = body.model_dump(exclude_unset=True)
        params["model"] = self.config.openai_model
        async with self.upstream_slot():
            result = await self._client.create_chat_completion(**params)
        return NeMoGymChatCompletion.model_validate(result)


if __name__ == "__main__":
    SimpleModelServer.run_webserver()
