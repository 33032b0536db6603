"""Resources servers: tools, ``/seed_session`` and ``/verify`` (the reward)."""

from abc import abstractmethod
from typing import Any, Self

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, model_validator

from nemo_gym.config.schema import BaseRunServerInstanceConfig
from nemo_gym.http.server_base import SimpleServer
from nemo_gym.openai_utils import NeMoGymResponse, NeMoGymResponseCreateParamsNonStreaming


class BaseResourcesServerConfig(BaseRunServerInstanceConfig):
    pass


class BaseRunRequest(BaseModel):
    """A dataset row: the Responses create-params plus any task fields the verifier needs."""

    responses_create_params: NeMoGymResponseCreateParamsNonStreaming


class BaseVerifyRequest(BaseRunRequest):
    response: NeMoGymResponse

    @model_validator(mode="before")
    @classmethod
    def _accept_python_field_names(cls, data: Any) -> Any:
        """Let ``BaseVerifyResponse(**body.model_dump(), reward=...)`` round-trip a JSON-schema text format.

        The SDK's response model names the format's ``schema`` field ``schema_`` in Python, so ``model_dump()``
        writes ``schema_`` and validation of the copy would fail; it is read back under its JSON name.
        """
        if isinstance(data, dict):
            response = data.get("response")
            text = response.get("text") if isinstance(response, dict) else None
            text_format = text.get("format") if isinstance(text, dict) else None
            if isinstance(text_format, dict) and "schema_" in text_format and "schema" not in text_format:
                text_format = {("schema" if key == "schema_" else key): value for key, value in text_format.items()}
                data = {**data, "response": {**response, "text": {**text, "format": text_format}}}
        return data


class BaseVerifyResponse(BaseVerifyRequest):
    reward: float

    @classmethod
    def from_request(cls, body: BaseVerifyRequest, **fields: Any) -> Self:
        """The reply to ``body``: its ``responses_create_params`` and ``response`` carried over, plus ``reward`` and
        the reply class's own ``fields`` (validated). The task fields of the request are not copied: declare on
        the reply class what the written rollout should hold."""
        return cls(responses_create_params=body.responses_create_params, response=body.response, **fields)


class BaseSeedSessionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BaseSeedSessionResponse(BaseModel):
    pass


class BaseResourcesServer(SimpleServer):
    config: BaseResourcesServerConfig


class SimpleResourcesServer(BaseResourcesServer):
    """Subclasses add one ``POST /<tool_name>`` route per tool in ``setup_webserver`` and implement ``verify``."""

    def setup_webserver(self) -> FastAPI:
        app = self.create_app()
        app.post("/seed_session")(self.seed_session)
        app.post("/verify")(self.verify)
        return app

    async def seed_session(self, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        return BaseSeedSessionResponse()

    @abstractmethod
    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse: ...
