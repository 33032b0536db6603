"""Item 4: a 4xx from the model or the resources server reaches the agent's caller as that 4xx, naming the inner
server, and is not retried; a 502 is kept for an upstream that is down."""

import httpx

from nemo_gym.config.ports import find_open_port
from tests.faults.stack import quick_stack, still_serves

UPSTREAM_400 = {"status": 400, "body": {"error": {"message": "temperature must be <= 2", "type": "invalid_request"}}}


def test_a_model_4xx_is_passed_through_the_agent_once() -> None:
    with quick_stack() as stack:
        stack.upstream.set_rules([{"match": {}, "fault": UPSTREAM_400}])
        before = len(stack.upstream.requests)
        response = httpx.post(f"{stack.agent}/v1/responses", json={"input": "hi", "temperature": 1.5}, timeout=60)
        assert response.status_code == 400, response.text
        assert "policy_model" in response.text and "temperature must be <= 2" in response.text
        chat_calls = [r for r in list(stack.upstream.requests)[before:] if r.path.endswith("/chat/completions")]
        assert len(chat_calls) == 1  # neither the model server nor the agent retried it
        assert still_serves(stack.agent)


def test_a_resources_4xx_is_passed_through_run() -> None:
    with quick_stack() as stack:
        row = {"responses_create_params": {"input": "What is the weather in Oslo?"}, "expected_cities": "Oslo"}
        response = httpx.post(f"{stack.agent}/run", json=row, timeout=60)
        assert response.status_code == 422, response.text
        assert "example_single_tool_call" in response.text and "/verify" in response.text
        assert still_serves(stack.agent)


def test_a_dead_model_upstream_is_a_502_from_model_server_and_agent() -> None:
    dead = f"http://127.0.0.1:{find_open_port()}/v1"
    with quick_stack(upstream_base_url=dead) as stack:
        model = httpx.post(f"{stack.model}/v1/responses", json={"input": "hi"}, timeout=60)
        assert model.status_code == 502, model.text
        agent = httpx.post(f"{stack.agent}/run", json={"responses_create_params": {"input": "hi"}}, timeout=60)
        assert agent.status_code == 502, agent.text
        assert "policy_model" in agent.text
        assert still_serves(stack.model) and still_serves(stack.agent)
