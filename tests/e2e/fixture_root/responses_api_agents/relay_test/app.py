"""A tiny agent used by the end-to-end tests: it calls counter_test through ServerClient with its cookie."""

from fastapi import FastAPI, Request
from pydantic import BaseModel

from nemo_gym.base_responses_api_agent import BaseResponsesAPIAgentConfig, SimpleResponsesAPIAgent
from nemo_gym.config_types import ResourcesServerRef
from nemo_gym.server_utils import get_response_json, raise_for_status


class RelayTestConfig(BaseResponsesAPIAgentConfig):
    resources_server: ResourcesServerRef
    relay_api_key: str = ""


class RelayRequest(BaseModel):
    times: int = 2


class RelayTestAgent(SimpleResponsesAPIAgent):
    config: RelayTestConfig

    def setup_webserver(self) -> FastAPI:
        app = self.create_app()
        app.post("/relay")(self.relay)
        return app

    async def relay(self, request: Request, body: RelayRequest) -> dict:
        name = self.config.resources_server.name
        seeded = await self.server_client.post(name, "/seed_session", json={})
        await raise_for_status(seeded)
        cookies = seeded.cookies
        for _ in range(body.times):
            response = await self.server_client.post(name, "/increment", json={"times": 1}, cookies=cookies)
            await raise_for_status(response)
            cookies = response.cookies
        final = await self.server_client.post(name, "/count", json={}, cookies=cookies)
        await raise_for_status(final)
        return await get_response_json(final)

    async def responses(self, body):  # not used by these tests
        raise NotImplementedError

    async def run(self, body):  # not used by these tests
        raise NotImplementedError


if __name__ == "__main__":
    RelayTestAgent.run_webserver()
