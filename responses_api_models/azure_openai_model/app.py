"""azure_openai_model: the Responses API over an Azure OpenAI Chat Completions deployment (via the OpenAI SDK)."""

from typing import Any

from fastapi import Body, Request
from openai import AsyncAzureOpenAI

from nemo_gym.base_responses_api_model import BaseResponsesAPIModelConfig, SimpleResponsesAPIModel
from nemo_gym.chat_translation import (
    respond_via_chat,
)
from nemo_gym.openai_utils import (
    NeMoGymChatCompletion,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymResponse,
    NeMoGymResponseCreateParamsNonStreaming,
)
from nemo_gym.server_utils import default_retry_policy


class AzureOpenAIModelServerConfig(BaseResponsesAPIModelConfig):
    openai_base_url: str  # the Azure endpoint, e.g. https://my-resource.openai.azure.com
    openai_api_key: str
    openai_model: str  # the deployment name
    default_query: dict[str, Any]  # must hold "api-version"
    # The SDK retries connection errors, 408/409/429 and 5xx with exponential back-off and jitter. Unset, its
    # retries and per-call timeout (request_timeout_s, or the reference's timeout_s) follow the `http_client`
    # policy (max_attempts - 1 retries, request_timeout_s). In-flight calls: max_concurrent_requests (or the
    # reference's num_concurrent_requests).
    max_retries: int | None = None

    def model_post_init(self, context: Any) -> None:
        if not self.default_query.get("api-version"):
            raise ValueError(
                "default_query.api-version must be set (e.g. +policy_model...default_query.api-version=…)"
            )


class AzureOpenAIModelServer(SimpleResponsesAPIModel):
    config: AzureOpenAIModelServerConfig

    def model_post_init(self, context: Any) -> None:
        policy = default_retry_policy()
        self._client = AsyncAzureOpenAI(
            azure_endpoint=self.config.openai_base_url,
            api_key=self.config.openai_api_key,
            api_version=self.config.default_query["api-version"],
            max_retries=self.config.max_retries if self.config.max_retries is not None else policy.max_attempts - 1,
            timeout=self.config.request_timeout_s
            if self.config.request_timeout_s is not None
            else policy.request_timeout_s,
        )

    async def _create(self, params: dict) -> dict:
        params["model"] = self.config.openai_model
        async with self.upstream_slot():
            completion = await self._client.chat.completions.create(**params)
        # The SDK returns its own ChatCompletion object; dump it so our richer type can validate it.
        return completion.model_dump(exclude_unset=True)

    async def responses(
        self, request: Request, body: NeMoGymResponseCreateParamsNonStreaming = Body()
    ) -> NeMoGymResponse:
        response = await respond_via_chat(
            body.model_dump(exclude_unset=True), self._create, model=self.config.openai_model
        )
        return NeMoGymResponse.model_validate(response)

    async def chat_completions(
        self, request: Request, body: NeMoGymChatCompletionCreateParamsNonStreaming = Body()
    ) -> NeMoGymChatCompletion:
        completion = await self._create(body.model_dump(exclude_unset=True))
        return NeMoGymChatCompletion.model_validate(completion)


if __name__ == "__main__":
    AzureOpenAIModelServer.run_webserver()
