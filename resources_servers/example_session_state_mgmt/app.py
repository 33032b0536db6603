"""example_session_state_mgmt: a counter per rollout session, kept across tool calls and read back by /verify.

Shows how a resources server keeps per-rollout state: everything is keyed by ``request.session[SESSION_ID_KEY]``,
the id carried by this server's signed session cookie from ``/seed_session`` through every tool call to
``/verify``. State lives in memory, so run this server with one worker.
"""

from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field, PrivateAttr

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)
from nemo_gym.server_utils import SESSION_ID_KEY
from resources_servers.example_session_state_mgmt.session_store import CounterStore


class StatefulCounterResourcesServerConfig(BaseResourcesServerConfig):
    # A session untouched for this long is dropped (a rollout that never reached /verify); null = never.
    session_idle_timeout_s: float | None = Field(default=3600.0, gt=0)
    # Hard cap on live sessions; beyond it the least recently used one is dropped; null = no cap.
    max_sessions: int | None = Field(default=1_000_000, ge=1)


class StatefulCounterSeedSessionRequest(BaseSeedSessionRequest):
    initial_count: int


class IncrementCounterRequest(BaseModel):
    count: int


class IncrementCounterResponse(BaseModel):
    success: bool


class GetCounterValueResponse(BaseModel):
    count: int


class StatefulCounterVerifyRequest(BaseVerifyRequest):
    expected_count: int


class StatefulCounterResourcesServer(SimpleResourcesServer):
    config: StatefulCounterResourcesServerConfig

    _store: CounterStore = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._store = CounterStore(self.config.session_idle_timeout_s, self.config.max_sessions)

    @property
    def store(self) -> CounterStore:
        return self._store

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        app.post("/increment_counter")(self.increment_counter)
        app.post("/get_counter_value")(self.get_counter_value)
        return app

    async def seed_session(self, request: Request, body: StatefulCounterSeedSessionRequest) -> BaseSeedSessionResponse:
        self._store.seed(request.session[SESSION_ID_KEY], body.initial_count)
        return BaseSeedSessionResponse()

    async def increment_counter(self, request: Request, body: IncrementCounterRequest) -> IncrementCounterResponse:
        self._store.add(request.session[SESSION_ID_KEY], body.count)
        return IncrementCounterResponse(success=True)

    async def get_counter_value(self, request: Request) -> GetCounterValueResponse:
        return GetCounterValueResponse(count=self._store.get(request.session[SESSION_ID_KEY]))

    async def verify(self, request: Request, body: StatefulCounterVerifyRequest) -> BaseVerifyResponse:
        # The rollout is over: its state is removed as it is read.
        count = self._store.pop(request.session[SESSION_ID_KEY])
        reward = float(count is not None and count == body.expected_count)
        return BaseVerifyResponse.from_request(body, reward=reward)


if __name__ == "__main__":
    StatefulCounterResourcesServer.run_webserver()
