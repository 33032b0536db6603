"""example_single_tool_call: one weather tool; the reward is 1.0 unless a stricter rule is configured.

The smallest useful environment: it shows a tool route, config fields, a task field and a verifier. The tool's
answer is always "cold"; nothing is looked up.
"""

import json

from fastapi import FastAPI, HTTPException
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
    # true: 1.0 only if get_weather was called for every city in the row's ``expected_cities`` and for no other.
    require_expected_cities: bool = False


class WeatherVerifyRequest(BaseVerifyRequest):
    # The cities the user asked about (task field of the dataset row); read when require_expected_cities is set.
    expected_cities: list[str] | None = None


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

    async def verify(self, body: WeatherVerifyRequest) -> BaseVerifyResponse:
        cities = called_cities(body.response.output)
        reward = 1.0
        if self.config.require_tool_call and not cities:
            reward = 0.0
        if self.config.require_expected_cities:
            if not body.expected_cities:
                raise HTTPException(
                    status_code=422,
                    detail="require_expected_cities is set but the row has no expected_cities (a list of city names)",
                )
            expected = {normalize_city(city) for city in body.expected_cities}
            reward = float(set(cities) == expected)
        return BaseVerifyResponse.from_request(body, reward=reward)


def normalize_city(name: str) -> str:
    """``" Austin, TX "`` and ``"austin"`` name the same city."""
    return name.split(",")[0].strip().casefold()


def called_cities(output: list) -> list[str]:
    """The (normalized) city of every get_weather call in the output; a call whose arguments do not parse is ''."""
    cities = []
    for item in output:
        if getattr(item, "type", None) != "function_call" or item.name != TOOL_NAME:
            continue
        try:
            arguments = json.loads(item.arguments)
            city = arguments.get("city") if isinstance(arguments, dict) else None
        except ValueError:
            city = None
        cities.append(normalize_city(city) if isinstance(city, str) else "")
    return cities


if __name__ == "__main__":
    SimpleWeatherResourcesServer.run_webserver()
