"""ServerApp's short path answers exactly as FastAPI's full path does, for every kind of request and outcome."""

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from nemo_gym.http.fast_routes import ServerApp
from nemo_gym.http.middleware import ServerMiddleware


class Body(BaseModel):
    x: int
    note: str | None = None


class Answer(BaseModel):
    y: int
    note: str | None = None


class AnswerWithExtra(Answer):
    secret_internal: str = "not declared by the route"


def build(app_class: type[FastAPI], extra_middleware: bool = False) -> FastAPI:
    app = app_class()
    if extra_middleware:

        class Tag:
            def __init__(self, inner):
                self.inner = inner

            async def __call__(self, scope, receive, send):
                await self.inner(scope, receive, send)

        app.add_middleware(Tag)
    app.add_middleware(
        ServerMiddleware, secret_key="test-secret", session_cookie="srv", server_label="srv", max_bytes=4096
    )

    @app.post("/model")
    async def model(request: Request, body: Body) -> Answer:
        request.session["last"] = body.x
        return AnswerWithExtra(y=body.x + 1, note=body.note)

    @app.post("/no_request")
    async def no_request(body: Body) -> Answer:
        return Answer(y=body.x * 2)

    @app.post("/exclude_none", response_model_exclude_none=True)
    async def exclude_none(body: Body) -> Answer:
        return Answer(y=body.x)

    @app.post("/session")
    async def session(request: Request) -> dict:
        return {"last": request.session.get("last"), "raw": (await request.body()).decode()}

    @app.post("/reread")
    async def reread(request: Request, body: Body) -> dict:
        return {"parsed": body.x, "json": await request.json()}

    @app.post("/http_error")
    async def http_error(body: Body) -> Answer:
        raise HTTPException(status_code=404, detail=f"no item {body.x}", headers={"x-why": "missing"})

    @app.post("/crash")
    async def crash(body: Body) -> Answer:
        raise RuntimeError(f"bug at {body.x}")

    @app.post("/bad_answer")
    async def bad_answer(body: Body) -> Answer:
        return {"y": "not a number"}  # type: ignore[return-value]

    @app.post("/plain")
    async def plain(body: Body) -> PlainTextResponse:
        return PlainTextResponse(f"plain {body.x}", status_code=201)

    @app.post("/untyped")
    async def untyped(body: Body):
        return {"x": body.x, "items": (1, 2)}

    @app.post("/created", status_code=201)
    async def created(body: Body) -> Answer:
        return Answer(y=body.x)

    @app.post("/query")
    async def query(body: Body, factor: int = 3) -> Answer:
        return Answer(y=body.x * factor)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


CASES = [
    ("POST", "/model", {"json": {"x": 1, "note": "n"}}),
    ("POST", "/model", {"json": {"x": "one"}}),
    ("POST", "/model", {"json": {}}),
    ("POST", "/model", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("POST", "/model", {"content": b'{"x": 5}', "headers": {"content-type": "text/plain"}}),
    ("POST", "/model", {"content": b'{"x": 5}'}),
    ("POST", "/model", {"content": b"", "headers": {"content-type": "application/json"}}),
    ("POST", "/model", {"content": b"null", "headers": {"content-type": "application/json"}}),
    ("POST", "/model", {"content": b'{"x": 18446744073709551616}', "headers": {"content-type": "application/json"}}),
    ("POST", "/model", {"content": b'{"x": 2}', "headers": {"content-type": "application/json; charset=utf-8"}}),
    ("POST", "/model", {"content": b"x" * 5000, "headers": {"content-type": "application/json"}}),
    ("GET", "/model", {}),
    ("POST", "/no_request", {"json": {"x": 4}}),
    ("POST", "/exclude_none", {"json": {"x": 4}}),
    ("POST", "/reread", {"json": {"x": 6}}),
    ("POST", "/http_error", {"json": {"x": 7}}),
    ("POST", "/crash", {"json": {"x": 8}}),
    ("POST", "/bad_answer", {"json": {"x": 9}}),
    ("POST", "/plain", {"json": {"x": 10}}),
    ("POST", "/untyped", {"json": {"x": 11}}),
    ("POST", "/created", {"json": {"x": 12}}),
    ("POST", "/query?factor=5", {"json": {"x": 13}}),
    ("GET", "/health", {}),
    ("POST", "/missing", {"json": {"x": 1}}),
]


async def _call(app: FastAPI, method: str, path: str, kwargs: dict) -> tuple[int, dict, bytes]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path, **kwargs)
    headers = {name: value for name, value in response.headers.items() if name != "set-cookie"}
    headers["has-cookie"] = str("set-cookie" in response.headers)
    return response.status_code, headers, response.content


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), CASES, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(CASES)]
)
def test_short_path_answers_as_fastapi_does(method: str, path: str, kwargs: dict) -> None:
    full = asyncio.run(_call(build(FastAPI), method, path, kwargs))
    short = asyncio.run(_call(build(ServerApp), method, path, kwargs))
    assert short == full


def test_simple_routes_take_the_short_path_and_others_do_not() -> None:
    app = build(ServerApp)
    asyncio.run(_call(app, "GET", "/health", {}))
    table = app._fast_routes.table
    assert ("POST", "/model") in table and ("POST", "/no_request") in table and ("GET", "/health") in table
    assert ("POST", "/query") not in table  # a query parameter: FastAPI's full path
    status, _, content = asyncio.run(_call(app, "POST", "/model", {"json": {"x": 1}}))
    assert status == 200 and json.loads(content) == {"y": 2, "note": None}  # filtered to the declared model


def test_an_app_with_other_middleware_keeps_fastapis_path() -> None:
    app = build(ServerApp, extra_middleware=True)
    status, _, content = asyncio.run(_call(app, "POST", "/model", {"json": {"x": 1}}))
    assert status == 200 and json.loads(content)["y"] == 2
    assert app._fast_routes.front is None and app._fast_routes.lookup({"method": "POST", "path": "/model"}) is None


def test_session_cookie_carries_state_between_short_path_calls() -> None:
    async def scenario(app: FastAPI) -> dict:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.post("/model", json={"x": 41})  # the client keeps the session cookie it is given
            second = await client.post("/session", content=b"raw body")
        forged_cookie = {"srv": "forged.value.sig"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=forged_cookie) as client:
            forged = await client.post("/session")
        return {"second": second.json(), "forged": forged.json()}

    assert asyncio.run(scenario(build(ServerApp))) == asyncio.run(scenario(build(FastAPI)))
    assert asyncio.run(scenario(build(ServerApp)))["second"] == {"last": 41, "raw": "raw body"}


def test_routes_added_later_are_served() -> None:
    app = build(ServerApp)
    asyncio.run(_call(app, "GET", "/health", {}))

    @app.post("/late")
    async def late(body: Body) -> Answer:
        return Answer(y=-body.x)

    status, _, content = asyncio.run(_call(app, "POST", "/late", {"json": {"x": 3}}))
    assert (status, json.loads(content)) == (200, {"y": -3, "note": None})
    assert ("POST", "/late") in app._fast_routes.table
