"""Model servers: ``/v1/responses`` and ``/v1/chat/completions``.

Every model server shares one vocabulary for its upstream calls (``BaseResponsesAPIModelConfig``):

- ``max_concurrent_requests``: upstream calls in flight at most (unset or 0: no cap); the reference's
  ``num_concurrent_requests`` is accepted for it. Servers hold a slot with ``async with self.upstream_slot():``.
- ``request_timeout_s``: per-attempt timeout of an upstream call (unset: the ``http_client`` policy's); the
  reference's ``timeout_s`` is accepted for it.

(``local_model``'s ``max_queued_requests`` is another thing: how many requests may wait for its one engine.)
Training mode (token ids) is :mod:`nemo_gym.training_mode`'s.
"""

import asyncio
import contextlib
from abc import abstractmethod
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AliasChoices, Field, PrivateAttr

from nemo_gym.chat_translation import TranslationError
from nemo_gym.config.schema import BaseRunServerInstanceConfig
from nemo_gym.http.server_base import SimpleServer
from nemo_gym.openai_utils import (
    NeMoGymChatCompletion,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymResponse,
    NeMoGymResponseCreateParamsNonStreaming,
)


class BaseResponsesAPIModelConfig(BaseRunServerInstanceConfig):
    max_concurrent_requests: int | None = Field(
        default=None, validation_alias=AliasChoices("max_concurrent_requests", "num_concurrent_requests")
    )
    request_timeout_s: float | None = Field(
        default=None, validation_alias=AliasChoices("request_timeout_s", "timeout_s")
    )


class BaseResponsesAPIModel(SimpleServer):
    config: BaseResponsesAPIModelConfig


class SimpleResponsesAPIModel(BaseResponsesAPIModel):
    """Subclasses implement ``responses`` and ``chat_completions``; they may return the model or, to skip a
    second validation on the hot path, a ``Response`` holding its JSON (the routes document the model either way)."""

    _upstream_limit: Any = PrivateAttr(default=None)

    def setup_webserver(self) -> FastAPI:
        app = self.create_app()

        async def untranslatable(request: Request, error: TranslationError) -> JSONResponse:
            # A Responses request a Chat Completions backend cannot express is the client's error.
            return JSONResponse(status_code=400, content={"detail": str(error)})

        app.add_exception_handler(TranslationError, untranslatable)
        app.post("/v1/chat/completions", response_model=NeMoGymChatCompletion)(self.chat_completions)
        app.post("/v1/responses", response_model=NeMoGymResponse)(self.responses)
        return app

    def upstream_slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """One of ``max_concurrent_requests`` slots, to hold around an upstream call (no cap when unset or 0)."""
        limit = self.__pydantic_private__["_upstream_limit"]  # (pydantic's private-attribute lookup is slow)
        if limit is None:
            cap = self.config.max_concurrent_requests
            limit = self._upstream_limit = asyncio.Semaphore(cap) if cap else contextlib.nullcontext()
        return limit

    @abstractmethod
    async def chat_completions(
        self, request: Request, body: NeMoGymChatCompletionCreateParamsNonStreaming = Body()
    ) -> NeMoGymChatCompletion | Response: ...

    @abstractmethod
    async def responses(
        self, request: Request, body: NeMoGymResponseCreateParamsNonStreaming = Body()
    ) -> NeMoGymResponse | Response: ...
