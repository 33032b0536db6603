"""The HTTP layer over real sockets: retries, errors, the session cookie and the server base."""

import asyncio
import socket

import aiohttp
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nemo_gym.base_resources_server import BaseResourcesServerConfig, SimpleResourcesServer
from nemo_gym.http.retry_policy import RetryPolicy
from nemo_gym.server_utils import (
    SESSION_ID_KEY,
    close_global_aiohttp_session,
    get_response_json,
    raise_for_status,
    request,
)
from nemo_gym.testing.servers import make_server_client, serve_app

FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02, request_timeout_s=2)


@pytest.fixture(autouse=True)
async def _close_session():
    yield
    await close_global_aiohttp_session()


def flaky_app(failures: int, status: int = 503) -> tuple[FastAPI, dict]:
    app = FastAPI()
    seen = {"calls": 0}

    @app.post("/x")
    async def x() -> JSONResponse:
        seen["calls"] += 1
        if seen["calls"] <= failures:
            return JSONResponse({"error": "try later"}, status_code=status)
        return JSONResponse({"ok": True})

    return app, seen


async def test_5xx_is_retried_until_success() -> None:
    app, seen = flaky_app(failures=2)
    with serve_app(app) as url:
        response = await request("POST", f"{url}/x", json={}, policy=FAST)
        assert response.status == 200 and seen["calls"] == 3


async def test_retries_are_bounded_and_the_last_response_is_returned(caplog) -> None:
    app, seen = flaky_app(failures=10)
    with serve_app(app) as url:
        response = await request("POST", f"{url}/x", json={}, policy=FAST)
        assert response.status == 503 and seen["calls"] == 3
        with pytest.raises(aiohttp.ClientResponseError) as error:
            await raise_for_status(response)
        assert b"try later" in error.value.response_content
    assert sum("Retrying POST" in record.message for record in caplog.records) == 2


async def test_4xx_is_not_retried() -> None:
    app, seen = flaky_app(failures=10, status=400)
    with serve_app(app) as url:
        response = await request("POST", f"{url}/x", json={}, policy=FAST)
        assert response.status == 400 and seen["calls"] == 1


async def test_a_dead_server_gives_a_clear_error_not_a_hang() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(aiohttp.ClientConnectionError):
        await asyncio.wait_for(request("POST", f"http://127.0.0.1:{port}/x", json={}, policy=FAST), timeout=10)


async def test_a_hung_server_times_out() -> None:
    app = FastAPI()

    @app.post("/slow")
    async def slow() -> dict:
        await asyncio.sleep(30)
        return {}

    policy = RetryPolicy(max_attempts=2, request_timeout_s=0.3, backoff_initial_s=0.01)
    with serve_app(app) as url:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(request("POST", f"{url}/slow", json={}, policy=policy), timeout=10)


class Echo(BaseModel):
    value: int


class DemoConfig(BaseResourcesServerConfig):
    pass


class DemoServer(SimpleResourcesServer):
    config: DemoConfig

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        app.post("/session")(self.session)
        app.post("/boom")(self.boom)
        app.post("/inner")(self.inner)
        app.post("/echo")(self.echo)
        return app

    async def session(self, request: Request) -> dict:
        return {"session_id": request.session[SESSION_ID_KEY]}

    async def boom(self) -> dict:
        raise ValueError("the tool broke")

    async def inner(self) -> dict:
        response = await self.server_client.post("other", "/boom", json={})
        await raise_for_status(response)
        return {}

    async def echo(self, body: Echo) -> Echo:
        return body

    async def verify(self, body):
        raise NotImplementedError


def demo(name: str, servers: dict | None = None) -> DemoServer:
    config = DemoConfig(host="127.0.0.1", port=0, entrypoint="app.py", name=name, domain="other")
    return DemoServer(config=config, server_client=make_server_client(servers))


async def test_session_cookie_is_per_instance_and_resent_on_every_response() -> None:
    with serve_app(demo("first").setup_webserver()) as url:
        first = await request("POST", f"{url}/session", json={})
        assert "DemoServer___first" in first.cookies
        session_id = (await get_response_json(first))["session_id"]
        again = await request("POST", f"{url}/session", json={}, cookies=first.cookies)
        assert (await get_response_json(again))["session_id"] == session_id
        assert "DemoServer___first" in again.cookies  # re-sent, so a caller can chain cookies
        fresh = await request("POST", f"{url}/session", json={})
        assert (await get_response_json(fresh))["session_id"] != session_id


async def test_a_forged_session_cookie_is_rejected() -> None:
    import base64

    forged_payload = base64.urlsafe_b64encode(b'{"session_id":"someone-else"}').rstrip(b"=").decode()
    with serve_app(demo("first").setup_webserver()) as url:
        response = await request(
            "POST", f"{url}/session", json={}, cookies={"DemoServer___first": f"{forged_payload}.AAAA.BBBB"}
        )
        assert (await get_response_json(response))["session_id"] != "someone-else"


async def test_exceptions_become_500_with_a_json_string_body() -> None:
    with serve_app(demo("first").setup_webserver()) as url:
        response = await request("POST", f"{url}/boom", json={}, policy=RetryPolicy(max_attempts=1))
        assert response.status == 500
        assert await get_response_json(response) == "ValueError('the tool broke')"


async def test_inner_server_errors_name_the_calling_server() -> None:
    with serve_app(demo("other").setup_webserver()) as other_url:
        outer = demo("outer", {"other": other_url})
        with serve_app(outer.setup_webserver()) as url:
            response = await request("POST", f"{url}/inner", json={}, policy=RetryPolicy(max_attempts=1))
            body = await get_response_json(response)
    assert response.status == 502  # the inner server failed, not this one (issue 12: no 500 for it)
    assert body.startswith("Hit an exception in DemoServer___outer calling an inner server:")
    assert "the tool broke" in body


async def test_validation_errors_are_422_with_fastapi_detail() -> None:
    with serve_app(demo("first").setup_webserver()) as url:
        response = await request("POST", f"{url}/echo", json={"value": "not a number"})
        assert response.status == 422
        detail = (await get_response_json(response))["detail"]
        assert detail[0]["loc"] == ["body", "value"]


async def test_health_and_base_routes() -> None:
    with serve_app(demo("first").setup_webserver()) as url:
        health = await request("GET", f"{url}/health")
        assert (await get_response_json(health))["status"] == "ok"
        seed = await request("POST", f"{url}/seed_session", json={"anything": 1})
        assert await get_response_json(seed) == {}


def test_retry_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(backoff_initial_s=1, backoff_max_s=4, jitter=0)
    assert [policy.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, 4]


def test_retry_policy_from_config() -> None:
    policy = RetryPolicy.from_config({"max_attempts": 7, "retry_statuses": [503], "unknown": 1})
    assert policy.max_attempts == 7 and policy.retry_statuses == frozenset({503})
