"""example_single_tool_call: one weather tool; the reward is 1.0 (or, with ``require_tool_call``, whether it was used).

The smallest useful environment: it shows a tool route, a config field and a verifier. The tool's answer is always
"cold"; nothing is looked up.
"""

from fastapi import FastAPI
from pydantic import BaseModel

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)

TOOL_NAME = "get_weather"


class SimpleWeatherResourcesServerConfig(BaseResourcesServerConfig):
    # false (the reference's rule): every rollout earns 1.0. true: 1.0 only if the model called get_weather.
    require_tool_call: bool = False


class GetWeatherRequest(BaseModel):
    city: str


class GetWeatherResponse(BaseModel):
    city: str
    weather_description: str


class SimpleWeatherResourcesServer(SimpleResourcesServer):
    config: SimpleWeatherResourcesServerConfig

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        app.post(f"/{TOOL_NAME}")(self.get_weather)
        return app

    async def get_weather(self, body: GetWeatherRequest) -> GetWeatherResponse:
        return GetWeatherResponse(city=body.city, weather_description=f"The weather in {body.city} is cold.")

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        reward = 1.0
        if self.config.require_tool_call:
            called = any(
                getattr(item, "type", None) == "function_call" and item.name == TOOL_NAME
                for item in body.response.output
            )
            reward = float(called)
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


if __name__ == "__main__":
    SimpleWeatherResourcesServer.run_webserver()
