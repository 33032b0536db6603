"""Translation between the OpenAI Responses API and Chat Completions, shared by the vLLM-style model servers.

Pure functions over plain dicts (no HTTP, no pydantic passes on the hot path):

* :func:`responses_to_chat_params` turns a Responses request (the ``exclude_unset`` dump of
  ``NeMoGymResponseCreateParamsNonStreaming``) into Chat Completions params;
* :func:`chat_message_to_output_items` turns the reply's assistant message into Responses output items;
* :func:`build_response` wraps them in the Response envelope;
* the ``*_reasoning_*`` helpers move reasoning between ``<think>`` tags and vLLM's reasoning-parser fields;
* training-mode token ids (``TOKEN_ID_FIELDS``) are carried across turns; reading and attaching them is
  :mod:`nemo_gym.training_mode`'s.

Round-trip guarantee: a reply whose content is ``<think>..</think>`` blocks followed by text, plus tool calls,
becomes items that replay into the same assistant message byte for byte (whitespace and empty blocks included).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nemo_gym.training_mode import TOKEN_ID_FIELDS

THINK_PATTERN = re.compile(r"<think>(.*?)</think>", re.DOTALL)
REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM < 0.16 and >= 0.16 names

# Fields of the Responses request echoed in the envelope, with the value used when the caller did not send them.
_ECHOED_FIELDS = {
    "background": None,
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": None,
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt": None,
    "reasoning": None,
    "service_tier": None,
    "temperature": None,
    "text": None,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": None,
    "top_p": None,
    "truncation": None,
    "user": None,
}
_PASSTHROUGH_PARAMS = ("temperature", "top_p", "metadata", "store", "user", "service_tier", "top_logprobs")
_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


class TranslationError(ValueError):
    """The request cannot be expressed in Chat Completions (the message says which part); a client error."""


# ---------------------------------------------------------------------------------------------- request


@dataclass
class _MessageBuilder:
    keep_token_ids: bool
    messages: list[dict] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    token_fields: dict | None = None

    def flush_assistant(self) -> None:
        """Emit the pending assistant turn (text, think blocks and tool calls of consecutive items) if any."""
        content = "".join(self.content)
        tokens = self.token_fields if self.keep_token_ids else None
        if content or self.tool_calls or tokens:
            message: dict[str, Any] = {"role": "assistant", "content": content or None}
            if self.tool_calls:
                message["tool_calls"] = self.tool_calls
            if tokens:
                message.update(tokens)
                if not content and not self.tool_calls:
                    message["content"] = ""
            self.messages.append(message)
        # Token ids belong to exactly one turn; clearing them here keeps them off later assistant turns.
        self.content, self.tool_calls, self.token_fields = [], [], None


def random_hex_id() -> str:
    """32 random hex digits for an output item's or response's id, from the seeded PRNG (ids need only be unique)."""
    return f"{random.getrandbits(128):032x}"


def _input_part_to_chat(part: dict) -> dict:
    part_type = part.get("type")
    if part_type in ("input_text", "text"):
        return {"type": "text", "text": part.get("text", "")}
    if part_type == "input_image":
        image = {"url": part.get("image_url") or part.get("file_id")}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if part_type == "input_file":
        file = {key: part[key] for key in ("file_data", "file_id", "filename") if part.get(key) is not None}
        return {"type": "file", "file": file}
    raise TranslationError(f"Unsupported content part type {part_type!r} in an input message")


def _tool_output_part_to_chat(part: dict) -> dict:
    # A Chat Completions tool message holds text parts only.
    if part.get("type") in ("input_text", "text"):
        return {"type": "text", "text": part.get("text", "")}
    raise TranslationError(
        f"A function_call_output part of type {part.get('type')!r} cannot be sent to a Chat Completions model "
        "(tool messages hold text only)"
    )


def _assistant_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # output_text and input_text parts carry `text`; refusal parts have nothing to replay.
    return "".join(part.get("text") or "" for part in content)


def _function_tool_to_chat(tool: dict) -> dict:
    if tool.get("type") != "function":
        raise TranslationError(
            f"Only function tools can be sent to a Chat Completions model, got {tool.get('type')!r}"
        )
    # `strict` is dropped: vLLM >= 0.17.1 rejects it.
    function = {key: tool[key] for key in ("name", "description", "parameters") if tool.get(key) is not None}
    return {"type": "function", "function": function}


def _tool_choice_to_chat(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice["name"]}}
    raise TranslationError(f"Unsupported tool_choice {choice!r} for a Chat Completions model")


def _text_format_to_response_format(text: dict | None) -> dict | None:
    text_format = (text or {}).get("format") or {}
    if text_format.get("type") == "json_object":
        return {"type": "json_object"}
    if text_format.get("type") == "json_schema":
        schema = {key: text_format[key] for key in ("name", "schema", "strict", "description") if key in text_format}
        return {"type": "json_schema", "json_schema": schema}
    return None


def responses_to_chat_params(body: dict, *, keep_token_ids: bool = False) -> dict:
    """Chat Completions params for a Responses request (``model`` is left to the caller).

    ``body`` holds only the fields the caller set. With ``keep_token_ids`` (training mode), the token fields of a
    replayed item are stamped onto the assistant message of its turn.
    """
    builder = _MessageBuilder(keep_token_ids=keep_token_ids)
    if body.get("instructions"):
        builder.messages.append({"role": "system", "content": body["instructions"]})
    items = body["input"]
    if isinstance(items, str):
        items = [{"role": "user", "content": [{"type": "input_text", "text": items}]}]
    for item in items:
        item_type = item.get("type") or "message"
        if item_type == "message":
            role = item.get("role")
            if role == "assistant":
                builder.content.append(_assistant_text(item.get("content")))
            else:
                builder.flush_assistant()
                content = item.get("content")
                if content is None:
                    content = ""
                elif not isinstance(content, str):
                    content = [_input_part_to_chat(part) for part in content]
                builder.messages.append({"role": role, "content": content})
        elif item_type == "reasoning":
            builder.content.extend(f"<think>{s.get('text') or ''}</think>" for s in item.get("summary") or [])
        elif item_type == "function_call":
            if not item.get("call_id"):
                raise TranslationError("A function_call item has no call_id")
            function = {"name": item["name"], "arguments": item["arguments"]}
            builder.tool_calls.append({"id": item["call_id"], "type": "function", "function": function})
        elif item_type == "function_call_output":
            builder.flush_assistant()
            output = item["output"]
            if not isinstance(output, str):
                output = [_tool_output_part_to_chat(part) for part in output]
            builder.messages.append({"role": "tool", "content": output, "tool_call_id": item["call_id"]})
        else:
            raise TranslationError(f"Unsupported input item type {item_type!r}")
        if item.get("prompt_token_ids") is not None:  # the training-mode bundle (TOKEN_ID_FIELDS)
            builder.token_fields = {name: item[name] for name in TOKEN_ID_FIELDS}
    builder.flush_assistant()

    params: dict[str, Any] = {"messages": builder.messages}
    for name in _PASSTHROUGH_PARAMS:
        if name in body:
            params[name] = body[name]
    if params.get("top_logprobs", 0) is None:
        del params["top_logprobs"]
    if body.get("max_output_tokens") is not None:
        params["max_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        # vLLM rejects an empty `tools`, and `tool_choice`/`parallel_tool_calls` without tools.
        params["tools"] = [_function_tool_to_chat(tool) for tool in body["tools"]]
        if "tool_choice" in body:
            params["tool_choice"] = _tool_choice_to_chat(body["tool_choice"])
        if "parallel_tool_calls" in body:
            params["parallel_tool_calls"] = body["parallel_tool_calls"]
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        params["reasoning_effort"] = effort
    response_format = _text_format_to_response_format(body.get("text"))
    if response_format:
        params["response_format"] = response_format
    return params


# ---------------------------------------------------------------------------------------------- reasoning


def split_reasoning_for_upstream(message: dict) -> None:
    """For an upstream running a reasoning parser: move the leading ``<think>`` block of an assistant message into
    ``reasoning_content``/``reasoning`` (the inverse of what the parser did), in place.

    Only the first block is moved, as a reasoning parser produces one; later blocks stay in the text unchanged.
    """
    content = message.get("content")
    if isinstance(content, str):
        match = THINK_PATTERN.search(content)
        if match:
            message["content"] = content[: match.start()] + content[match.end() :]
            message["reasoning_content"] = message["reasoning"] = match.group(1)
    elif isinstance(content, list):
        for part in content:
            text = part.get("text") if isinstance(part, dict) else None
            match = THINK_PATTERN.search(text) if isinstance(text, str) else None
            if match:
                part["text"] = text[: match.start()] + text[match.end() :]
                message["reasoning_content"] = message["reasoning"] = match.group(1)
                return


def inline_reasoning_from_upstream(message: dict, *, uses_reasoning_parser: bool, server_name: str = "") -> None:
    """Fold a reasoning parser's field back into the content as a leading ``<think>`` block, in place.

    NeMo Gym keeps reasoning inline so the reply is a plain Chat Completions message and round-trips exactly.
    """
    reasoning = None
    for name in REASONING_FIELDS:
        value = message.pop(name, None)
        reasoning = reasoning or value
    if not reasoning:
        return
    if not uses_reasoning_parser:
        raise TranslationError(
            f"Model server {server_name!r} got reasoning in a separate field from the upstream, so the upstream "
            "runs a reasoning parser: set `uses_reasoning_parser: true` or start vLLM without --reasoning-parser"
        )
    message["content"] = f"<think>{reasoning}</think>" + (message.get("content") or "")


def extract_reasoning(content: str) -> tuple[list[str], str]:
    """All ``<think>`` blocks (non-greedy, across lines) and the text outside them, untrimmed."""
    blocks = THINK_PATTERN.findall(content)
    return blocks, THINK_PATTERN.sub("", content) if blocks else content


# ---------------------------------------------------------------------------------------------- reply


def chat_message_to_output_items(message: dict, *, keep_token_ids: bool = False) -> list[dict]:
    """Responses output items for a Chat Completions assistant message (reasoning inline as ``<think>``).

    Order: one reasoning item (a summary per block), the message, then the function calls. A reply with nothing
    in it still yields one empty message. In training mode the token fields go on the last item.
    """
    blocks, text = extract_reasoning(message.get("content") or "")
    tool_calls = message.get("tool_calls") or []
    items: list[dict] = []
    if blocks:
        summary = [{"text": block, "type": "summary_text"} for block in blocks]
        items.append(
            {"id": f"rs_{random_hex_id()}", "summary": summary, "type": "reasoning", "encrypted_content": None}
        )
    if text or (not blocks and not tool_calls):
        items.append(
            {
                "id": f"msg_{random_hex_id()}",
                "content": [{"annotations": [], "text": text, "type": "output_text", "logprobs": None}],
                "role": message.get("role") or "assistant",
                "status": "completed",
                "type": "message",
            }
        )
    for call in tool_calls:
        function = call.get("function") or {}
        items.append(
            {
                "arguments": function.get("arguments") or "",
                "call_id": call["id"],
                "name": function.get("name"),
                "type": "function_call",
                "id": call["id"],
                "status": "completed",
            }
        )
    if keep_token_ids and message.get("prompt_token_ids") is not None:
        items[-1].update({name: message[name] for name in TOKEN_ID_FIELDS})
    return items


def _usage(chat_usage: dict | None) -> dict | None:
    if not chat_usage:
        return None
    prompt_details = chat_usage.get("prompt_tokens_details") or {}
    completion_details = chat_usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": chat_usage.get("prompt_tokens") or 0,
        "input_tokens_details": {"cached_tokens": prompt_details.get("cached_tokens") or 0},
        "output_tokens": chat_usage.get("completion_tokens") or 0,
        "output_tokens_details": {"reasoning_tokens": completion_details.get("reasoning_tokens") or 0},
        "total_tokens": chat_usage.get("total_tokens") or 0,
    }


def build_response(
    request: dict, output: list[dict], *, model: str, finish_reason: str | None = None, usage: dict | None = None
) -> dict:
    """The Response envelope: request fields echoed, ``model`` forced, status from the finish reason."""
    reason = _INCOMPLETE_REASONS.get(finish_reason or "")
    response = {
        "id": f"resp_{random_hex_id()}",
        "created_at": int(time.time()),
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "model": model,
        "object": "response",
        "output": output,
        "status": "incomplete" if reason else "completed",
        "usage": _usage(usage),
        "conversation": None,
        "prompt_cache_key": None,
        "safety_identifier": None,
    }
    for name, default in _ECHOED_FIELDS.items():
        value = request.get(name, default)
        response[name] = default if value is None and default is not None else value
    return response


def empty_completion(model: str) -> dict[str, Any]:
    """The Chat Completions reply for a prompt that does not fit the context window: nothing generated and
    ``finish_reason: length``, so the Responses side marks it incomplete instead of failing the rollout."""
    message = {"role": "assistant", "content": None, "tool_calls": None}
    return {
        "id": f"chatcmpl-{random_hex_id()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "length", "message": message, "logprobs": None}],
    }


async def respond_via_chat(
    request: dict,
    complete: Callable[[dict], Awaitable[dict]],
    *,
    model: str,
    keep_token_ids: bool = False,
) -> dict[str, Any]:
    """One Responses call served by a Chat Completions backend: translate ``request``, ``await complete(chat
    params)``, and build the Response from its first choice. A request that cannot be translated raises
    :class:`TranslationError` (model servers answer it with a 400)."""
    chat_params = responses_to_chat_params(request, keep_token_ids=keep_token_ids)
    completion = await complete(chat_params)
    choice = completion["choices"][0]
    output = chat_message_to_output_items(choice["message"], keep_token_ids=keep_token_ids)
    return build_response(
        request, output, model=model, finish_reason=choice.get("finish_reason"), usage=completion.get("usage")
    )
