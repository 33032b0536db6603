"""One environment as ng_run wires it, in-process: scripted vLLM -> vllm_model -> simple_agent <-> resources server."""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_gym import PARENT_DIR
from nemo_gym.base_resources_server import SimpleResourcesServer
from nemo_gym.config.ports import find_open_port
from nemo_gym.config_types import ModelServerRef, ResourcesServerRef
from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from nemo_gym.testing.servers import make_server_client, serve_app
from responses_api_agents.simple_agent.app import SimpleAgent, SimpleAgentConfig
from responses_api_models.vllm_model.app import VLLMModel, VLLMModelConfig


@dataclass
class EnvStack:
    agent_url: str
    upstream: ScriptedUpstream
    resources: SimpleResourcesServer


@contextlib.contextmanager
def env_stack(
    resources_class: type[SimpleResourcesServer],
    resources_name: str,
    resources_fields: dict[str, Any] | None = None,
    rules: list[dict] | None = None,
    max_steps: int | None = 16,
) -> Iterator[EnvStack]:
    agent_name = f"{resources_name}_simple_agent"
    names = ("policy_model", resources_name, agent_name)
    ports = {name: find_open_port(host="127.0.0.1") for name in names}
    client = make_server_client({name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    common = {"host": "127.0.0.1", "entrypoint": "app.py"}
    config_class = resources_class.model_fields["config"].annotation
    resources = resources_class(
        config=config_class(**common, port=ports[resources_name], name=resources_name, **(resources_fields or {})),
        server_client=client,
    )
    agent = SimpleAgent(
        config=SimpleAgentConfig(
            **common,
            port=ports[agent_name],
            name=agent_name,
            resources_server=ResourcesServerRef(name=resources_name),
            model_server=ModelServerRef(name="policy_model"),
            max_steps=max_steps,
        ),
        server_client=client,
    )
    with ScriptedUpstream(rules=rules) as upstream, contextlib.ExitStack() as servers:
        model = VLLMModel(
            config=VLLMModelConfig(
                **common,
                port=ports["policy_model"],
                name="policy_model",
                base_url=upstream.base_url,
                api_key="test-key",
                model="scripted-model",
                return_token_id_information=False,
                uses_reasoning_parser=True,
            ),
            server_client=client,
        )
        servers.enter_context(serve_app(model.setup_webserver(), port=ports["policy_model"]))
        servers.enter_context(serve_app(resources.setup_webserver(), port=ports[resources_name]))
        agent_url = servers.enter_context(serve_app(agent.setup_webserver(), port=ports[agent_name]))
        yield EnvStack(agent_url=agent_url, upstream=upstream, resources=resources)


def example_rows(server_folder: str) -> list[dict]:
    path = Path(PARENT_DIR) / "resources_servers" / server_folder / "data" / "example.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def item_types(result: dict) -> list[str]:
    return [item["type"] for item in result["response"]["output"]]
