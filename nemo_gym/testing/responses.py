"""Builders for OpenAI-Responses-shaped JSON bodies in tests: output items, a whole response, a ``/verify`` request.

Each builder returns a plain dict that ``NeMoGymResponse`` (or the item union it holds) validates, so tests can post
it over HTTP as is or tweak it first::

    body = verify_request("It is 4.", input=[user_message("What is 2+2?")], expected_answer="4")
    reply = make_response([function_call("get_weather", {"city": "Oslo"}), assistant_message("Bring a coat.")])
"""

from __future__ import annotations

import json
from typing import Any


def user_message(text: str) -> dict[str, Any]:
    """An easy input message from the user: ``{"role": "user", "content": text}``."""
    return {"role": "user", "content": text}


def assistant_message(text: str, id: str = "msg_1") -> dict[str, Any]:
    """A completed assistant output message holding one ``output_text`` part."""
    return {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "id": id,
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(name: str, arguments: str | dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    """A ``function_call`` output item; ``arguments`` is sent verbatim when a string, else JSON-encoded.

    Its ``id`` is ``fc_<call_id>``.
    """
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"type": "function_call", "name": name, "arguments": encoded, "call_id": call_id, "id": f"fc_{call_id}"}


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    """A ``function_call_output`` item answering the call ``call_id``."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def reasoning(text: str, id: str = "rs_1") -> dict[str, Any]:
    """A reasoning item with ``text`` as its single summary part."""
    return {"type": "reasoning", "id": id, "summary": [{"type": "summary_text", "text": text}]}


def make_response(output: str | list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """A valid ``NeMoGymResponse`` body whose ``output`` is ``output`` (a string becomes one assistant message).

    Defaults: ``id="resp_1"``, ``created_at=0``, ``model="policy"``, ``parallel_tool_calls=True``,
    ``tool_choice="auto"``, ``tools=[]``. ``overrides`` replace or add top-level fields (e.g. ``id``, ``model``,
    ``incomplete_details``).
    """
    items = [assistant_message(output)] if isinstance(output, str) else list(output)
    return {
        "id": "resp_1",
        "created_at": 0,
        "model": "policy",
        "object": "response",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": items,
    } | overrides


def verify_request(
    output: str | list[dict[str, Any]],
    *,
    input: str | list[dict[str, Any]] = "Hello",
    **task_fields: Any,
) -> dict[str, Any]:
    """A ``/verify`` body: ``{"responses_create_params": {"input": input}, "response": make_response(output), ...}``.

    ``input`` is used verbatim (a string or a list of input items); ``task_fields`` are the row's own fields
    (``expected_answer`` and the like) and are added at the top level.
    """
    return {"responses_create_params": {"input": input}, "response": make_response(output), **task_fields}
