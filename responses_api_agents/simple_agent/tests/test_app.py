"""simple_agent over HTTP: a scripted fake model server, a real resources server and the agent, each on loopback."""

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)
from nemo_gym.config.ports import find_open_port
from nemo_gym.config_types import ModelServerRef, ResourcesServerRef
from nemo_gym.server_utils import SESSION_ID_KEY, configure_http_client
from nemo_gym.testing.responses import assistant_message as message
from nemo_gym.testing.responses import function_call, make_response, reasoning
from nemo_gym.testing.servers import make_server_client, serve_app
from responses_api_agents.simple_agent.app import (
    DEFAULT_MAX_STEPS,
    SimpleAgent,
    SimpleAgentConfig,
    parse_tool_arguments,
)

MODEL_COOKIE = "FakeModel___policy_model"
TOOLS = [
    {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}, "strict": False}
    for name in ("add", "slow", "fail")
]


# ------------------------------------------------------------------------------------------------- fake model


REASONING = reasoning("hmm")


class FakeModel:
    """Plays back ``replies`` (a list of output-item lists, or a callable of the request body) and records calls."""

    def __init__(self) -> None:
        self.replies: list[Any] | Callable[[dict], Any] = []
        self.requests: list[dict] = []
        self.cookies: list[dict] = []

    def reset(self, replies: list[Any] | Callable[[dict], Any]) -> None:
        self.replies = replies
        self.requests.clear()
        self.cookies.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/responses")
        async def responses(request: Request) -> Response:
            body = orjson.loads(await request.body())
            self.requests.append(body)
            self.cookies.append(dict(request.cookies))
            n = len(self.requests)
            reply = self.replies(body) if callable(self.replies) else self.replies[n - 1]
            if isinstance(reply, Response):
                return reply
            incomplete = None
            if isinstance(reply, tuple):  # (items, "max_output_tokens")
                reply, reason = reply
                incomplete = {"reason": reason}
            response = JSONResponse(make_response(reply, id=f"resp_{n}", model="fake", incomplete_details=incomplete))
            response.set_cookie(MODEL_COOKIE, f"call{n}")
            return response

        return app


# ------------------------------------------------------------------------------------------ resources server


class AddRequest(BaseModel):
    amount: int


class SlowRequest(BaseModel):
    delay: float
    label: str


class ProbeVerifyRequest(BaseVerifyRequest):
    expected_total: int


class ProbeVerifyResponse(BaseVerifyResponse):
    total: int | None
    expected_total: int


class ProbeResourcesServer(SimpleResourcesServer):
    """Per-session totals, a slow tool that records overlap, and a tool that fails."""

    config: BaseResourcesServerConfig
    totals: dict[str, int] = {}
    seeds: list[dict] = []
    in_flight: int = 0
    max_in_flight: int = 0
    slow_order: list[str] = []
    fail_verify: bool = False

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        app.post("/add")(self.add)
        app.post("/slow")(self.slow)
        app.post("/fail")(self.fail)
        return app

    async def seed_session(self, request: Request) -> BaseSeedSessionResponse:
        self.seeds.append(orjson.loads(await request.body()))
        self.totals[request.session[SESSION_ID_KEY]] = 0
        return BaseSeedSessionResponse()

    async def add(self, request: Request, body: AddRequest) -> dict:
        session_id = request.session[SESSION_ID_KEY]
        self.totals[session_id] = self.totals.get(session_id, 0) + body.amount
        return {"total": self.totals[session_id]}

    async def slow(self, body: SlowRequest) -> dict:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.slow_order.append(body.label)
        await asyncio.sleep(body.delay)
        self.in_flight -= 1
        return {"done": body.label}

    async def fail(self) -> dict:
        raise RuntimeError("tool exploded")

    async def verify(self, request: Request, body: ProbeVerifyRequest) -> ProbeVerifyResponse:
        if self.fail_verify:
            return JSONResponse(status_code=400, content={"detail": "verify refused: bad row"})
        total = self.totals.get(request.session[SESSION_ID_KEY])
        return ProbeVerifyResponse(**body.model_dump(), total=total, reward=float(total == body.expected_total))


# ------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture(scope="module")
def stack(model: FakeModel) -> Iterator[dict]:
    ports = {name: find_open_port(host="127.0.0.1") for name in ("policy_model", "probe", "agent")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    client = make_server_client(urls)
    resources = ProbeResourcesServer(
        config=BaseResourcesServerConfig(host="127.0.0.1", port=ports["probe"], entrypoint="app.py", name="probe"),
        server_client=client,
    )
    with ExitStack() as stack:
        stack.enter_context(serve_app(model.app(), port=ports["policy_model"]))
        stack.enter_context(serve_app(resources.setup_webserver(), port=ports["probe"]))
        yield {"ports": ports, "urls": urls, "client": client, "resources": resources}


@pytest.fixture
def resources(stack: dict) -> ProbeResourcesServer:
    server = stack["resources"]
    server.totals.clear()
    server.seeds.clear()
    server.slow_order.clear()
    server.max_in_flight = 0
    server.fail_verify = False
    return server


@pytest.fixture
def start_agent(stack: dict) -> Iterator[Callable[..., str]]:
    """Start an agent with the given config fields (one at a time: all use the `agent` port of the config)."""
    with ExitStack() as exits:

        def start(**fields: Any) -> str:
            config = SimpleAgentConfig(
                host="127.0.0.1",
                port=stack["ports"]["agent"],
                entrypoint="app.py",
                name="agent",
                resources_server=ResourcesServerRef(name="probe"),
                model_server=ModelServerRef(name="policy_model"),
                **fields,
            )
            agent = SimpleAgent(config=config, server_client=stack["client"])
            return exits.enter_context(serve_app(agent.setup_webserver(), port=stack["ports"]["agent"]))

        yield start


@pytest.fixture
def fast_retries() -> Iterator[None]:
    configure_http_client({"http_client": {"backoff_initial_s": 0.01, "backoff_max_s": 0.02}})
    yield
    configure_http_client({})


def row(**extra: Any) -> dict:
    params = {"input": [{"role": "user", "content": "go"}], "tools": TOOLS}
    params.update(extra.pop("params", {}))
    return {"responses_create_params": params, "expected_total": 0} | extra


async def post(url: str, body: Any, cookies: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, json=body, cookies=cookies)


# ---------------------------------------------------------------------------------------------------- tests


def test_parse_tool_arguments_explains_what_is_wrong() -> None:
    assert parse_tool_arguments('{"a": 1}') == ({"a": 1}, None)
    assert parse_tool_arguments("") == ({}, None)
    assert parse_tool_arguments("{oops")[1].startswith("Error: the tool call arguments are not valid JSON")
    assert "must be a JSON object, got list" in parse_tool_arguments("[1]")[1]


async def test_loop_runs_each_call_and_returns_every_item_in_order(model, resources, start_agent) -> None:
    model.reset([[function_call("add", {"amount": 2}, "c1")], [message("done")]])
    url = start_agent()
    response = await post(url + "/v1/responses", row()["responses_create_params"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["type"] for item in body["output"]] == ["function_call", "function_call_output", "message"]
    assert body["output"][1] == {"type": "function_call_output", "call_id": "c1", "output": '{"total":2}'}
    assert body["id"] == "resp_2"  # the last model reply's envelope
    # The model is called statelessly with the whole transcript; the second call also carries its own cookie.
    assert model.requests[1]["input"][1:] == body["output"][:2]
    assert model.cookies[1][MODEL_COOKIE] == "call1"
    assert response.cookies[MODEL_COOKIE] == "call2"
    assert any(name.startswith("ProbeResourcesServer___") for name in response.cookies)


async def test_string_input_becomes_a_user_message(model, resources, start_agent) -> None:
    model.reset([[message("hi")]])
    url = start_agent()
    response = await post(url + "/v1/responses", {"input": "hello"})
    assert response.status_code == 200
    assert model.requests[0]["input"] == [{"role": "user", "content": "hello", "type": "message"}]


async def test_run_seeds_loops_and_verifies_in_one_session(model, resources, start_agent) -> None:
    model.reset(
        [
            [function_call("add", {"amount": 3}, "a")],
            [function_call("add", {"amount": 4}, "b")],
            [message("7")],
        ]
    )
    url = start_agent()
    response = await post(url + "/run", row(expected_total=7, note="kept"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["reward"] == 1.0 and result["total"] == 7 and result["expected_total"] == 7
    assert resources.seeds[0]["note"] == "kept"  # seed_session sees the whole row
    assert [item["type"] for item in result["response"]["output"]].count("function_call_output") == 2


async def test_run_without_tool_calls_still_verifies_the_seeded_session(model, resources, start_agent) -> None:
    model.reset([[message("nothing to do")]])
    url = start_agent()
    result = (await post(url + "/run", row(expected_total=0))).json()
    assert result["total"] == 0 and result["reward"] == 1.0  # total None would mean another session


async def test_concurrent_runs_keep_their_sessions_apart(model, resources, start_agent) -> None:
    def script(body: dict) -> list[dict]:
        amount = int(body["input"][0]["content"])
        done = sum(1 for item in body["input"] if item.get("type") == "function_call_output")
        return [function_call("add", {"amount": amount}, f"c{done}")] if done < 2 else [message("ok")]

    model.reset(script)
    url = start_agent()
    rows = [row(params={"input": [{"role": "user", "content": str(n)}]}, expected_total=2 * n) for n in range(30)]
    results = await asyncio.gather(*(post(url + "/run", r) for r in rows))
    assert [r.json()["reward"] for r in results] == [1.0] * 30


async def test_malformed_arguments_go_back_to_the_model(model, resources, start_agent) -> None:
    model.reset(
        [
            [function_call("add", "{amount: 2", "bad")],
            [function_call("add", {"amount": 2}, "ok")],
            [message("2")],
        ]
    )
    url = start_agent()
    result = (await post(url + "/run", row(expected_total=2))).json()
    bad_output = result["response"]["output"][1]
    assert bad_output["call_id"] == "bad" and bad_output["output"].startswith("Error: the tool call arguments")
    assert result["reward"] == 1.0


async def test_unknown_tool_is_explained_without_calling_the_server(model, resources, start_agent) -> None:
    model.reset([[function_call("verify", {}, "x")], [message("sorry")]])
    url = start_agent()
    body = (await post(url + "/v1/responses", row()["responses_create_params"])).json()
    output = body["output"][1]["output"]
    assert output == "Error: unknown tool 'verify'. Available tools: add, fail, slow. Call one of them by its name."


async def test_tool_errors_are_model_visible_text(model, resources, start_agent) -> None:
    model.reset([[function_call("fail", {}, "f"), function_call("add", {"amount": "x"}, "g")], [message("hm")]])
    url = start_agent()
    body = (await post(url + "/v1/responses", row()["responses_create_params"])).json()
    assert "tool exploded" in body["output"][2]["output"]
    assert '"detail"' in body["output"][3]["output"]  # the 422 validation body


@pytest.mark.parametrize("parallel", [True, False])
async def test_calls_of_one_turn_overlap_only_when_parallel(model, resources, start_agent, parallel) -> None:
    calls = [function_call("slow", {"delay": 0.3, "label": "first"}, "1")]
    calls.append(function_call("slow", {"delay": 0.0, "label": "second"}, "2"))
    model.reset([calls, [message("done")]])
    url = start_agent()
    body = (
        await post(url + "/v1/responses", row(params={"parallel_tool_calls": parallel})["responses_create_params"])
    ).json()
    assert resources.max_in_flight == (2 if parallel else 1)
    assert resources.slow_order == ["first", "second"]
    outputs = [item for item in body["output"] if item["type"] == "function_call_output"]
    assert [item["call_id"] for item in outputs] == ["1", "2"]  # call order, not completion order


async def test_max_steps_defaults_to_a_finite_number(model, resources, start_agent) -> None:
    model.reset(lambda body: [REASONING])  # a reasoning-only reply never ends the loop by itself
    url = start_agent()
    body = (await post(url + "/v1/responses", {"input": "think"})).json()
    assert len(model.requests) == DEFAULT_MAX_STEPS and len(body["output"]) == DEFAULT_MAX_STEPS


async def test_max_steps_is_configurable_and_null_means_unlimited(model, resources, start_agent) -> None:
    model.reset(lambda body: [REASONING])
    url = start_agent(max_steps=3)
    await post(url + "/v1/responses", {"input": "think"})
    assert len(model.requests) == 3


async def test_null_max_steps_runs_until_the_model_answers(model, resources, start_agent) -> None:
    model.reset(lambda body: [REASONING] if len(model.requests) <= DEFAULT_MAX_STEPS + 4 else [message("ok")])
    url = start_agent(max_steps=None)
    await post(url + "/v1/responses", {"input": "think"})
    assert len(model.requests) == DEFAULT_MAX_STEPS + 5


async def test_truncated_reply_ends_the_loop_without_running_its_calls(model, resources, start_agent) -> None:
    model.reset([([function_call("add", {"amount": 1}, "c")], "max_output_tokens")])
    url = start_agent()
    result = (await post(url + "/run", row(expected_total=0))).json()
    assert len(model.requests) == 1 and result["total"] == 0
    assert [item["type"] for item in result["response"]["output"]] == ["function_call"]


async def test_model_error_is_a_5xx_naming_the_model_server(model, resources, start_agent, fast_retries) -> None:
    model.reset(lambda body: JSONResponse(status_code=503, content={"detail": "upstream is down"}))
    url = start_agent()
    response = await post(url + "/run", row())
    assert response.status_code == 502
    message_text = response.json()
    assert "Model server 'policy_model' failed on POST /v1/responses (HTTP 503): upstream is down" in message_text
    assert message_text.startswith("Agent 'agent' failed on POST /v1/responses (HTTP 502)")
    assert len(model.requests) == 3  # the model call is retried by policy; the loop is not re-run


async def test_invalid_model_reply_is_a_5xx(model, resources, start_agent) -> None:
    model.reset(lambda body: Response(content=b'{"no": "output"}', media_type="application/json"))
    url = start_agent()
    response = await post(url + "/v1/responses", {"input": "x"})
    assert response.status_code == 502
    assert "Received an invalid response from model server 'policy_model'" in response.json()


async def test_a_verify_refusal_keeps_its_4xx_and_names_the_resources_server(model, resources, start_agent) -> None:
    model.reset([[message("done")]])
    resources.fail_verify = True
    url = start_agent()
    response = await post(url + "/run", row())
    assert response.status_code == 400  # the row is the caller's to fix: a client error, not a 502 to retry
    assert response.json() == "Resources server 'probe' failed on POST /verify (HTTP 400): verify refused: bad row"


async def test_unreachable_resources_server_is_a_clear_5xx(model, resources, stack, fast_retries) -> None:
    dead_port = find_open_port(host="127.0.0.1")
    urls = dict(stack["urls"], probe=f"http://127.0.0.1:{dead_port}")
    config = SimpleAgentConfig(
        host="127.0.0.1",
        port=stack["ports"]["agent"],
        entrypoint="app.py",
        name="agent",
        resources_server=ResourcesServerRef(name="probe"),
        model_server=ModelServerRef(name="policy_model"),
    )
    agent = SimpleAgent(config=config, server_client=make_server_client(urls))
    with serve_app(agent.setup_webserver(), port=stack["ports"]["agent"]) as url:
        started = time.monotonic()
        response = await post(url + "/run", row())
    assert response.status_code == 502
    assert response.json().startswith("Resources server 'probe' failed on POST /seed_session: ClientConnectorError")
    assert time.monotonic() - started < 10
