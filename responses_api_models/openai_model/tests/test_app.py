"""openai_model over HTTP, with a scripted OpenAI-compatible upstream serving /v1/responses natively."""

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai

from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from nemo_gym.testing.servers import make_server_client, serve_app
from responses_api_models.openai_model.app import SimpleModelServer, SimpleModelServerConfig


@contextlib.contextmanager
def openai_model(base_url: str, **overrides: Any) -> Iterator[str]:
    config = SimpleModelServerConfig(
        host="127.0.0.1",
        port=0,
        entrypoint="app.py",
        name="policy_model",
        openai_base_url=base_url,
        openai_api_key="sk-test",
        openai_model="gpt-test",
        **overrides,
    )
    with serve_app(SimpleModelServer(config=config, server_client=make_server_client()).setup_webserver()) as url:
        yield url


def test_responses_pass_through_with_model_override_and_only_set_fields():
    with ScriptedUpstream() as upstream, openai_model(upstream.base_url) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        response = client.responses.create(model="client-model", input="hello")
        sent = upstream.requests[-1]
    assert response.output_text == "You said: hello"
    assert sent.path == "/v1/responses"
    assert sent.body == {"input": "hello", "model": "gpt-test"}
    assert sent.headers["Authorization"] == "Bearer sk-test"


def test_function_calls_come_back_as_items():
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}}}}
    with ScriptedUpstream() as upstream, openai_model(upstream.base_url, max_concurrent_requests=2) as url:
        body = httpx.post(url + "/v1/responses", json={"input": "Weather in Rome", "tools": [tool]}, timeout=30).json()
    assert body["output"][0]["type"] == "function_call"
    assert body["output"][0]["name"] == "get_weather"


def test_chat_completions_pass_through_with_model_override():
    with ScriptedUpstream() as upstream, openai_model(upstream.base_url) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        sent = upstream.requests[-1].body
    assert completion.choices[0].message.content == "You said: hi"
    assert sent == {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-test"}


def test_upstream_errors_are_retried_then_reported():
    with ScriptedUpstream(rules=[{"fault": "5xx", "times": 1}]) as upstream, openai_model(upstream.base_url) as url:
        assert httpx.post(url + "/v1/responses", json={"input": "x"}, timeout=30).status_code == 200
        upstream.set_rules([{"fault": {"status": 401, "body": {"error": {"message": "bad key"}}}}])
        failed = httpx.post(url + "/v1/responses", json={"input": "x"}, timeout=30)
    assert failed.status_code == 502  # our credentials, not the caller's request: an upstream fault
    assert "calling an inner server" in failed.json() and "bad key" in failed.json()
