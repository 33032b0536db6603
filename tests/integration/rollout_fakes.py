"""A fake agent and head server for rollout-collection tests (real uvicorn servers on loopback)."""

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Iterator

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from nemo_gym.runtime.head_server import HeadServerState, build_head_app
from nemo_gym.testing.servers import serve_app


class FakeAgent:
    """``POST /run`` echoes the row with a reward. Task fields steer it:

    ``rewards``: a list cycled over the calls for the row's ``id`` (default reward 1.0);
    ``fail``: always answer HTTP 500; ``fail_times``: answer 500 to the first N calls of that ``id``;
    ``max_delay_s``: sleep a random time up to this before answering.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: dict[object, int] = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list[dict] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/run")
        async def run(request: Request) -> Response:
            row = orjson.loads(await request.body())
            self.bodies.append(row)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if row.get("max_delay_s"):
                    await asyncio.sleep(random.random() * row["max_delay_s"])
                else:
                    await asyncio.sleep(0)
                key = row.get("id")
                call = self.calls[key]
                self.calls[key] += 1
                if row.get("fail") or call < row.get("fail_times", 0):
                    return JSONResponse({"detail": f"agent broke on row {key}"}, status_code=500)
                rewards = row.get("rewards") or [1.0]
                result = {
                    **row,
                    "response": {"id": f"resp_{key}_{call}", "output": []},
                    "reward": rewards[call % len(rewards)],
                    "served_by": self.name,
                }
                return Response(orjson.dumps(result), media_type="application/json")
            finally:
                self.in_flight -= 1

        return app


def agent_config(name: str, url: str) -> dict:
    host, port = url.removeprefix("http://").split(":")
    return {name: {"responses_api_agents": {"fake_agent": {"entrypoint": "app.py", "host": host, "port": int(port)}}}}


@contextlib.contextmanager
def fake_deployment(*agents: FakeAgent) -> Iterator[int]:
    """Serve the agents and a head server that knows them; yields the head server's port."""
    with contextlib.ExitStack() as stack:
        config: dict = {}
        for agent in agents:
            config.update(agent_config(agent.name, stack.enter_context(serve_app(agent.app()))))
        head_url = stack.enter_context(serve_app(build_head_app(HeadServerState(config=config))))
        config["head_server"] = {"host": "127.0.0.1", "port": int(head_url.rsplit(":", 1)[1])}
        yield config["head_server"]["port"]


def write_rows(path, rows: list[dict]) -> None:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))


def read_rows(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def task_row(index: int, **fields) -> dict:
    return {"id": index, "responses_create_params": {"input": [{"role": "user", "content": f"q{index}"}]}, **fields}
