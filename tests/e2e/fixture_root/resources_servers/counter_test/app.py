"""A tiny stateful resources server used by the end-to-end tests of ng_run."""

import ray
from fastapi import FastAPI, Request
from pydantic import BaseModel

from nemo_gym.base_resources_server import BaseResourcesServerConfig, SimpleResourcesServer
from nemo_gym.server_utils import SESSION_ID_KEY


@ray.remote(scheduling_strategy="SPREAD")
def where_tasks_run() -> str:
    return ray.get_runtime_context().gcs_address


class CounterTestConfig(BaseResourcesServerConfig):
    step: int = 1


class IncrementRequest(BaseModel):
    times: int = 1


class CounterTestServer(SimpleResourcesServer):
    config: CounterTestConfig
    counts: dict[str, int] = {}

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        app.post("/increment")(self.increment)
        app.post("/count")(self.count)
        app.post("/ray_info")(self.ray_info)
        return app

    async def increment(self, request: Request, body: IncrementRequest) -> dict:
        session_id = request.session[SESSION_ID_KEY]
        self.counts[session_id] = self.counts.get(session_id, 0) + body.times * self.config.step
        return {"count": self.counts[session_id]}

    async def count(self, request: Request) -> dict:
        return {"count": self.counts.get(request.session[SESSION_ID_KEY], 0)}

    async def ray_info(self) -> dict:
        """Which Ray cluster this process joined, and where a Ray task of it actually ran.

        Written as code for the reference is: no explicit connection, the first task joins the run's cluster.
        """
        import ray

        task_gcs = await where_tasks_run.remote()
        return {"connected": True, "gcs_address": ray.get_runtime_context().gcs_address, "task_gcs": task_gcs}

    async def verify(self, body):  # not used by these tests
        raise NotImplementedError


if __name__ == "__main__":
    CounterTestServer.run_webserver()
