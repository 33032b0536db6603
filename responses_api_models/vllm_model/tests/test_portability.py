"""vllm_model in front of OpenAI-compatible servers that are stricter than vLLM.

The rules (``portability.Dialect``) are tested as functions; the retry-and-remember behaviour over HTTP, against
scripted upstreams that refuse the ``developer`` role (as llama_cpp.server does, with a 500) or unknown fields (as
OpenAI does, with a 400).
"""

import logging

import httpx
import pytest

from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from responses_api_models.vllm_model.portability import Dialect, DialectBook, is_request_refusal
from responses_api_models.vllm_model.tests.test_app import vllm_model

# What llama_cpp.server 0.3 answers for a `developer` message (a pydantic error, served as 500), shortened.
LLAMA_CPP_DEVELOPER_ERROR = (
    "{\"error\":{\"message\":\"7 validation errors:\\n  {'type': 'literal_error', 'loc': ('body', 'messages', 0, "
    "'ChatCompletionRequestSystemMessage', 'role'), 'msg': \\\"Input should be 'system'\\\", 'input': 'developer'}"
    '","type":"internal_server_error","param":null,"code":null}}'
)
BODY = {
    "model": "m",
    "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    "max_tokens": 8,
    "chat_template_kwargs": {"enable_thinking": False},
    "top_k": 5,
}


def test_the_default_dialect_sends_the_request_unchanged():
    assert Dialect().adapt(BODY) is BODY


def test_a_refused_developer_role_is_sent_as_system_without_changing_the_original():
    fixed = Dialect().fix_for(BODY, 500, LLAMA_CPP_DEVELOPER_ERROR)
    assert fixed == Dialect(developer_as_system=True)
    sent = fixed.adapt(BODY)
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert BODY["messages"][0]["role"] == "developer"
    assert sent["chat_template_kwargs"] == {"enable_thinking": False} and sent["top_k"] == 5


def test_a_named_vllm_field_is_left_out_and_the_others_are_kept():
    fixed = Dialect().fix_for(BODY, 400, "Unrecognized request argument supplied: chat_template_kwargs")
    assert fixed == Dialect(dropped_fields=frozenset({"chat_template_kwargs"}))
    assert "chat_template_kwargs" not in fixed.adapt(BODY) and fixed.adapt(BODY)["top_k"] == 5


def test_every_vllm_field_a_validation_error_names_is_left_out():
    error = "body.top_k: Extra inputs are not permitted; body.chat_template_kwargs: Extra inputs are not permitted"
    fixed = Dialect().fix_for(BODY, 422, error)
    assert fixed.dropped_fields == {"chat_template_kwargs", "top_k"}
    assert set(fixed.adapt(BODY)) == {"model", "messages", "max_tokens"}


def test_refused_reasoning_fields_are_replayed_as_think_text():
    body = {"messages": [{"role": "assistant", "content": "42", "reasoning_content": "r", "reasoning": "r"}]}
    fixed = Dialect().fix_for(body, 400, "Invalid 'messages[0]': unknown parameter 'reasoning_content'.")
    assert fixed == Dialect(reasoning_inline=True)
    assert fixed.adapt(body)["messages"] == [{"role": "assistant", "content": "<think>r</think>42"}]


def test_null_content_of_a_tool_calling_turn_is_sent_as_an_empty_string_when_refused():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {
        "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [call]}]
    }
    # llama_cpp.server 0.3 (shortened): its assistant message type wants string content.
    error = (
        "{'type': 'string_type', 'loc': ('body', 'messages', 1, 'ChatCompletionRequestAssistantMessage', 'content'), "
        "'msg': 'Input should be a valid string', 'input': None}"
    )
    fixed = Dialect().fix_for(body, 500, "7 validation errors:\n  " + error)
    assert fixed == Dialect(empty_string_content=True)
    assert fixed.adapt(body)["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [call]}
    assert body["messages"][1]["content"] is None


def test_a_500_carrying_a_validation_error_is_a_refusal_of_the_request():
    assert is_request_refusal(500, LLAMA_CPP_DEVELOPER_ERROR)
    assert is_request_refusal(400, "anything") and is_request_refusal(422, "")
    assert not is_request_refusal(500, '{"error":{"message":"","type":"internal_server_error"}}')
    assert not is_request_refusal(503, "1 validation error: ('body', 'x')")


def test_max_tokens_becomes_max_completion_tokens_when_the_server_asks_for_it():
    error = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'."
    fixed = Dialect().fix_for(BODY, 400, error)
    assert fixed == Dialect(max_completion_tokens=True)
    sent = fixed.adapt(BODY)
    assert sent["max_completion_tokens"] == 8 and "max_tokens" not in sent


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (429, "developer role rate limited"),  # not a refusal of the body
        (503, "Unrecognized request argument supplied: top_k"),
        (401, "Incorrect API key provided"),
        (400, "temperature must be at most 2"),  # names nothing with a portable form
        (400, "Unrecognized request argument supplied: temperature"),  # not a vLLM-only field
        (422, "Extra inputs are not permitted"),  # names no field
    ],
)
def test_other_errors_have_no_fix(status, text):
    assert Dialect().fix_for(BODY, status, text) is None


def test_a_change_already_made_is_not_proposed_again():
    dialect = Dialect(developer_as_system=True, dropped_fields=frozenset({"chat_template_kwargs", "top_k"}))
    assert dialect.fix_for(dialect.adapt(BODY), 500, LLAMA_CPP_DEVELOPER_ERROR) is None
    assert dialect.fix_for(dialect.adapt(BODY), 400, "Unrecognized request argument supplied: top_k") is None


def test_the_book_merges_what_concurrent_requests_learn_and_logs_each_change_once(caplog):
    book = DialectBook("policy_model")
    with caplog.at_level(logging.WARNING):
        book.remember("http://a/v1", Dialect(developer_as_system=True), 500)
        book.remember("http://a/v1", Dialect(dropped_fields=frozenset({"top_k"})), 400)
        book.remember("http://a/v1", Dialect(developer_as_system=True), 500)
    assert book.get("http://a/v1") == Dialect(developer_as_system=True, dropped_fields=frozenset({"top_k"}))
    assert book.get("http://b/v1") == Dialect()
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("portability")]
    assert len(lines) == 2
    assert "http://a/v1" in lines[0] and "`developer` messages as `system`" in lines[0]
    assert "leaving out `top_k`" in lines[1] and "developer" not in lines[1]


# ----------------------------------------------------------------------------------------------- over HTTP

DEVELOPER_INPUT = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def _chat_roles(upstream: ScriptedUpstream) -> list[list[str]]:
    return [[m["role"] for m in r.body["messages"]] for r in upstream.requests if r.path == "/v1/chat/completions"]


def test_a_server_without_the_developer_role_works_with_no_flag_and_is_remembered(caplog):
    with ScriptedUpstream(refused_roles=("developer",)) as strict, vllm_model(strict.base_url, max_attempts=1) as url:
        with caplog.at_level(logging.WARNING):
            first = httpx.post(url + "/v1/responses", json={"input": DEVELOPER_INPUT}, timeout=30)
            second = httpx.post(url + "/v1/responses", json={"input": DEVELOPER_INPUT}, timeout=30)
    assert first.status_code == 200 and second.status_code == 200, first.text
    assert first.json()["output"][0]["content"][0]["text"] == "You said: hi"
    # Refused once, retried as system, and from then on sent as system at once.
    assert _chat_roles(strict) == [["developer", "user"], ["system", "user"], ["system", "user"]]
    learnt = [r.getMessage() for r in caplog.records if "refused a vLLM-style request" in r.getMessage()]
    assert len(learnt) == 1
    assert strict.base_url in learnt[0] and "HTTP 500" in learnt[0] and "`developer` messages as `system`" in learnt[0]


def test_what_is_learnt_is_kept_per_upstream():
    with (
        ScriptedUpstream(refused_roles=("developer",)) as strict,
        ScriptedUpstream() as lenient,
        vllm_model([strict.base_url, lenient.base_url], max_attempts=1) as url,
    ):
        with httpx.Client(timeout=30) as client:  # no cookie kept: every request is a new session
            for _ in range(12):
                assert client.post(url + "/v1/responses", json={"input": DEVELOPER_INPUT}).status_code == 200
                client.cookies.clear()
    strict_roles, lenient_roles = _chat_roles(strict), _chat_roles(lenient)
    assert strict_roles and lenient_roles
    assert strict_roles[0] == ["developer", "user"] and all(r == ["system", "user"] for r in strict_roles[1:])
    assert all(r == ["developer", "user"] for r in lenient_roles)


def test_a_server_refusing_vllm_fields_gets_the_request_without_them():
    overrides = {"chat_template_kwargs": {"enable_thinking": False}, "extra_body": {"top_k": 5}}
    with (
        ScriptedUpstream(refused_fields=("chat_template_kwargs", "top_k")) as strict,
        vllm_model(strict.base_url, **overrides) as url,
    ):
        first = httpx.post(url + "/v1/responses", json={"input": "hi"}, timeout=30)
        second = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert first.status_code == 200 and second.status_code == 200, first.text
    sent = [r.body for r in strict.requests if r.path == "/v1/chat/completions"]
    # Each refusal names one field; each is left out in turn, then both for good.
    assert [("chat_template_kwargs" in b, "top_k" in b) for b in sent] == [
        (True, True),
        (False, True),
        (False, False),
        (False, False),
    ]


def test_a_refusal_without_a_portable_form_is_still_an_error_and_nothing_is_learnt():
    with ScriptedUpstream(refused_fields=("temperature",)) as strict, vllm_model(strict.base_url) as url:
        for _ in range(2):
            response = httpx.post(url + "/v1/responses", json={"input": DEVELOPER_INPUT, "temperature": 0.5})
            assert response.status_code == 400
            assert "Unrecognized request argument supplied: temperature" in response.text
    assert _chat_roles(strict) == [["developer", "user"]] * 2


def test_a_validation_error_served_as_500_is_a_400_and_does_not_take_the_backend_out():
    error = (
        "1 validation error:\n  {'type': 'less_than_equal', 'loc': ('body', 'top_p'), 'msg': 'Input should be <= 1'}"
    )
    rules = [{"match": {"last_user_regex": "bad"}, "fault": {"status": 500, "body": {"error": {"message": error}}}}]
    with (
        ScriptedUpstream(rules=rules) as first,
        ScriptedUpstream(rules=rules) as second,
        vllm_model([first.base_url, second.base_url], max_attempts=1) as url,
    ):
        with httpx.Client(timeout=30) as client:
            for _ in range(6):
                refused = client.post(url + "/v1/responses", json={"input": "bad"})
                assert refused.status_code == 400
                detail = refused.json()["detail"]
                assert "\n" not in detail and "refused the request (HTTP 500)" in detail and "top_p" in detail
                client.cookies.clear()
    # Each refusal went to one backend only: none was marked down and skipped over.
    assert len(_chat_roles(first)) + len(_chat_roles(second)) == 6


def test_training_mode_against_a_server_without_token_ids_is_a_clear_502_at_the_first_request():
    refused = ("return_token_ids", "return_tokens_as_token_ids")
    with (
        ScriptedUpstream(refused_fields=refused) as strict,
        vllm_model(strict.base_url, return_token_id_information=True) as url,
    ):
        first = httpx.post(url + "/v1/responses", json={"input": "hi"}, timeout=30)
        later = httpx.post(url + "/v1/responses", json={"input": "hi"}, timeout=30)
    for response in (first, later):
        assert response.status_code == 502
        detail = response.json()["detail"]
        assert "\n" not in detail
        assert f"the upstream {strict.base_url} does not return token ids" in detail
        assert "return_token_id_information: true" in detail and "vLLM" in detail
    # Learnt at the first request: the second one is sent without the refused fields straight away.
    assert len([r for r in strict.requests if r.path == "/v1/chat/completions"]) == 4
