"""Helpers of the fault tests: the quick-start stack served in-process, and a check that a server still serves."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from nemo_gym.config.ports import find_open_port
from nemo_gym.config_types import ModelServerRef, ResourcesServerRef
from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.example_single_tool_call.app import (
    SimpleWeatherResourcesServer,
    SimpleWeatherResourcesServerConfig,
)
from responses_api_agents.simple_agent.app import SimpleAgent, SimpleAgentConfig
from responses_api_models.vllm_model.app import VLLMModel, VLLMModelConfig


def still_serves(url: str) -> bool:
    """The server at ``url`` answers ``GET /health`` with 200 (it survived whatever was sent before)."""
    return httpx.get(f"{url}/health", timeout=5).status_code == 200


def json_schema_text_format() -> dict:
    """``text.format`` of type ``json_schema`` (the SDK model names its ``schema`` field ``schema_``)."""
    return {
        "format": {
            "type": "json_schema",
            "name": "answer",
            "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "strict": True,
        }
    }


@dataclass
class QuickStack:
    model: str
    resources: str
    agent: str
    upstream: ScriptedUpstream | None


@contextlib.contextmanager
def quick_stack(upstream_base_url: str | None = None, extra_config: dict | None = None) -> Iterator[QuickStack]:
    """vllm_model -> simple_agent <-> example_single_tool_call on free loopback ports.

    The model talks to a scripted upstream, or to ``upstream_base_url`` when given (e.g. a port nobody listens on).
    """
    names = ("policy_model", "example_single_tool_call", "simple_agent")
    ports = {name: find_open_port(host="127.0.0.1") for name in names}
    client = make_server_client({name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, extra_config)
    common = {"host": "127.0.0.1", "entrypoint": "app.py"}
    with contextlib.ExitStack() as stack:
        upstream = None
        if upstream_base_url is None:
            upstream = stack.enter_context(ScriptedUpstream())
            upstream_base_url = upstream.base_url
        model = VLLMModel(
            config=VLLMModelConfig(
                **common,
                port=ports["policy_model"],
                name="policy_model",
                base_url=upstream_base_url,
                api_key="test-key",
                model="scripted-model",
                return_token_id_information=False,
                uses_reasoning_parser=True,
            ),
            server_client=client,
        )
        resources = SimpleWeatherResourcesServer(
            config=SimpleWeatherResourcesServerConfig(
                **common, port=ports["example_single_tool_call"], name="example_single_tool_call"
            ),
            server_client=client,
        )
        agent = SimpleAgent(
            config=SimpleAgentConfig(
                **common,
                port=ports["simple_agent"],
                name="simple_agent",
                resources_server=ResourcesServerRef(name="example_single_tool_call"),
                model_server=ModelServerRef(name="policy_model"),
            ),
            server_client=client,
        )
        urls = [
            stack.enter_context(serve_app(server.setup_webserver(), port=ports[name]))
            for name, server in zip(names, (model, resources, agent), strict=True)
        ]
        yield QuickStack(model=urls[0], resources=urls[1], agent=urls[2], upstream=upstream)
