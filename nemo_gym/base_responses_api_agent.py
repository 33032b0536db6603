"""Agents: ``/v1/responses`` runs the model/tool loop, ``/run`` runs one scored rollout."""

from abc import abstractmethod

from fastapi import Body, FastAPI

from nemo_gym.base_resources_server import BaseRunRequest, BaseVerifyResponse
from nemo_gym.config.schema import BaseRunServerInstanceConfig
from nemo_gym.http.server_base import SimpleServer
from nemo_gym.openai_utils import NeMoGymResponse, NeMoGymResponseCreateParamsNonStreaming


class BaseResponsesAPIAgentConfig(BaseRunServerInstanceConfig):
    pass


class BaseResponsesAPIAgent(SimpleServer):
    config: BaseResponsesAPIAgentConfig


class SimpleResponsesAPIAgent(BaseResponsesAPIAgent):
    def setup_webserver(self) -> FastAPI:
        app = self.create_app()
        app.post("/v1/responses")(self.responses)
        app.post("/run")(self.run)
        return app

    @abstractmethod
    async def responses(self, body: NeMoGymResponseCreateParamsNonStreaming = Body()) -> NeMoGymResponse: ...

    @abstractmethod
    async def run(self, body: BaseRunRequest) -> BaseVerifyResponse: ...
