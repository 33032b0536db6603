"""Model servers: ``/v1/responses`` and ``/v1/chat/completions``."""

from abc import abstractmethod

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

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
    pass


class BaseResponsesAPIModel(SimpleServer):
    config: BaseResponsesAPIModelConfig


class SimpleResponsesAPIModel(BaseResponsesAPIModel):
    def setup_webserver(self) -> FastAPI:
        app = self.create_app()

        async def untranslatable(request: Request, error: TranslationError) -> JSONResponse:
            # A Responses request a Chat Completions backend cannot express is the client's error.
            return JSONResponse(status_code=400, content={"detail": str(error)})

        app.add_exception_handler(TranslationError, untranslatable)
        app.post("/v1/chat/completions")(self.chat_completions)
        app.post("/v1/responses")(self.responses)
        return app

    @abstractmethod
    async def chat_completions(
        self, body: NeMoGymChatCompletionCreateParamsNonStreaming = Body()
    ) -> NeMoGymChatCompletion: ...

    @abstractmethod
    async def responses(self, body: NeMoGymResponseCreateParamsNonStreaming = Body()) -> NeMoGymResponse: ...
