"""Item 3: values that validate but cannot be passed on (integers beyond 64 bits, lone surrogates, a role that is an
object) and invalid bodies carrying such values are answered with a short 4xx JSON message, never a 500."""

import httpx
import orjson
import pytest

from tests.faults.stack import quick_stack, still_serves

BIG = str(2**70).encode()
# (server, path, raw JSON body)
CASES = [
    ("model", "/v1/responses", b'{"input": "hi", "max_output_tokens": ' + BIG + b"}"),
    ("model", "/v1/responses", b'{"input": "\\ud800"}'),
    ("model", "/v1/responses", b'{"input": 5, "x": ' + BIG + b"}"),
    ("model", "/v1/responses", b'{"input": 5, "model": "\\udfff"}'),
    ("model", "/v1/responses", b'{"input": "hi", "tools": [{"type": "namespace", "name": "n", "tools": "AAA"}]}'),
    ("model", "/v1/chat/completions", b'{"messages": [{"role": {}, "content": "hi"}]}'),
    (
        "model",
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": ' + BIG + b"}",
    ),
    ("model", "/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),
    ("agent", "/v1/responses", b'{"input": "hi", "temperature": 1, "max_output_tokens": ' + BIG + b"}"),
    ("agent", "/v1/responses", b'{"input": [{"role": {}, "content": "hi"}]}'),
    ("agent", "/run", b'{"responses_create_params": {"input": "\\ud800"}}'),
    (
        "resources",
        "/verify",
        b'{"responses_create_params": {"input": "\\ud800"}, "response": {"id": "r", '
        b'"created_at": 0, "model": "m", "object": "response", "parallel_tool_calls": true, "tool_choice": "auto", '
        b'"tools": [], "output": []}}',
    ),
    ("resources", "/get_weather", b'{"city": "\\ud800"}'),
    ("resources", "/get_weather", b'{"city": ' + BIG + b"}"),
]


@pytest.fixture(scope="module")
def stack():
    with quick_stack() as served:
        yield served


@pytest.mark.parametrize(("server", "path", "body"), CASES, ids=[f"{s}{p}-{i}" for i, (s, p, _) in enumerate(CASES)])
def test_unprocessable_values_get_a_short_4xx(stack, server: str, path: str, body: bytes) -> None:
    url = getattr(stack, server)
    response = httpx.post(url + path, content=body, headers={"content-type": "application/json"}, timeout=30)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert len(response.content) < 8000
    orjson.loads(response.content)  # valid JSON, even when it describes a lone surrogate
    assert still_serves(url)
