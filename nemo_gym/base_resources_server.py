"""Resources servers: tools, ``/seed_session`` and ``/verify`` (the reward)."""

from abc import abstractmethod

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

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


class BaseVerifyResponse(BaseVerifyRequest):
    reward: float


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
