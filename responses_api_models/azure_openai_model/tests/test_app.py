"""azure_openai_model over HTTP; the scripted upstream also answers Azure's deployment-scoped paths."""

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from nemo_gym.testing.servers import make_server_client, serve_app
from responses_api_models.azure_openai_model.app import AzureOpenAIModelServer, AzureOpenAIModelServerConfig


def _config(endpoint: str, **overrides) -> AzureOpenAIModelServerConfig:
    fields = {
        "host": "127.0.0.1",
        "port": 0,
        "entrypoint": "app.py",
        "name": "policy_model",
        "openai_base_url": endpoint,
        "openai_api_key": "azure-key",
        "openai_model": "my-deployment",
        "default_query": {"api-version": "2024-10-21"},
        "num_concurrent_requests": 2,
        **overrides,
    }
    return AzureOpenAIModelServerConfig(**fields)


@contextlib.contextmanager
def azure_model(endpoint: str) -> Iterator[str]:
    server = AzureOpenAIModelServer(config=_config(endpoint), server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        yield url


def test_config_requires_an_api_version():
    with pytest.raises(ValueError, match="api-version"):
        _config("http://127.0.0.1:1", default_query={})


def test_responses_are_translated_through_the_deployment():
    with ScriptedUpstream() as upstream, azure_model(upstream.url) as url:
        body = httpx.post(url + "/v1/responses", json={"input": "hello", "model": "x"}, timeout=30).json()
        sent = upstream.requests[-1]
    assert sent.path == "/openai/deployments/my-deployment/chat/completions"
    assert sent.headers["api-key"] == "azure-key"
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert body["model"] == "my-deployment"
    assert body["output"][0]["content"][0]["text"] == "You said: hello"


def test_chat_completions_work_against_the_sdk_object():
    with ScriptedUpstream() as upstream, azure_model(upstream.url) as url:
        response = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: hi"
