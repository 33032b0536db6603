"""The replies of the scripted upstream (:mod:`nemo_gym.testing.scripted_upstream`): what a scripted reply
generates, and the Chat Completions and Responses bodies built from it, in vLLM's wire format."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from nemo_gym.testing.scripted_behaviour import ScriptedReply, piece_id, piece_logprob, split_pieces


@dataclass
class Generation:
    content: str | None
    reasoning: str | None
    tool_calls: list[dict]
    finish_reason: str
    token_ids: list[int]
    pieces: list[str]
    tagged_text: str  # reasoning inline as <think>...</think> (unclosed if cut off), then the content


def error_response(status: int, message: str, error_type: str) -> web.Response:
    # vLLM's ErrorResponse shape.
    body = {"error": {"message": message, "type": error_type, "param": None, "code": status}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def json_response(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def generate(reply: ScriptedReply, max_tokens: int | None) -> Generation:
    """What a scripted reply generates: cut at ``max_tokens`` pieces (``finish_reason: length``)."""
    raw = f"<think>{reply.reasoning}</think>" if reply.reasoning is not None else ""
    raw += reply.content or ""
    for call in reply.tool_calls:
        raw += "<tool_call>" + orjson.dumps({"name": call["name"], "arguments": call["arguments"]}).decode()
        raw += "</tool_call>"
    pieces = split_pieces(raw)
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces = pieces[:max_tokens]
        text = "".join(pieces)
        reasoning, content = None, text
        if text.startswith("<think>"):
            reasoning, _, content = text[len("<think>") :].partition("</think>")
        return Generation(content, reasoning, [], "length", [piece_id(p) for p in pieces], pieces, text)
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    tagged = (f"<think>{reply.reasoning}</think>" if reply.reasoning is not None else "") + (reply.content or "")
    token_ids = [piece_id(p) for p in pieces]
    return Generation(reply.content, reply.reasoning, reply.tool_calls, finish, token_ids, pieces, tagged)


def chat_message(gen: Generation, reasoning_mode: str) -> dict:
    """The assistant message of a chat completion, reasoning as ``<think>`` text or in a field of its own."""
    content = gen.tagged_text if reasoning_mode == "think_tags" else gen.content or ""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if content == "" and gen.tool_calls else content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": [
            {"id": f"chatcmpl-tool-{uuid.uuid4().hex}", "type": "function", "function": dict(call)}
            for call in gen.tool_calls
        ],
    }
    if reasoning_mode != "think_tags":
        message[reasoning_mode] = gen.reasoning
    return message


def chat_logprobs(gen: Generation, as_token_ids: bool, top: int, seed: int | None) -> dict:
    """vLLM's logprobs: ``token_id:N`` tokens when asked, ``top`` alternatives each."""
    entries = []
    for piece, token_id in zip(gen.pieces, gen.token_ids, strict=True):
        token = f"token_id:{token_id}" if as_token_ids else piece
        logprob = piece_logprob(token_id, seed)
        entry = {"token": token, "logprob": logprob, "bytes": list(piece.encode()), "top_logprobs": []}
        for rank in range(top):
            entry["top_logprobs"].append({"token": token, "logprob": logprob - rank, "bytes": entry["bytes"]})
        entries.append(entry)
    return {"content": entries}


def responses_body(gen: Generation, body: dict, prompt_tokens: int, default_model: str) -> dict:
    """The Responses object for a generation: reasoning summary, message, function calls and usage."""
    output: list[dict] = []
    if gen.reasoning is not None:
        summary = [{"type": "summary_text", "text": gen.reasoning}]
        output.append({"id": f"rs_{uuid.uuid4().hex}", "type": "reasoning", "summary": summary})
    if gen.content or not gen.tool_calls:
        part = {"type": "output_text", "text": gen.content or "", "annotations": [], "logprobs": []}
        output.append(
            {
                "id": f"msg_{uuid.uuid4().hex}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [part],
            }  # fmt: skip
        )
    for call in gen.tool_calls:
        output.append(
            {
                "id": f"fc_{uuid.uuid4().hex}",
                "type": "function_call",
                "call_id": f"call_{uuid.uuid4().hex}",
                "name": call["name"],
                "arguments": call["arguments"],
                "status": "completed",
            }  # fmt: skip
        )
    incomplete = gen.finish_reason == "length"
    response = {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": int(time.time()),
        "model": body.get("model") or default_model,
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "error": None,
        "output": output,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "max_output_tokens": body.get("max_output_tokens"),
        "usage": {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(gen.token_ids),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt_tokens + len(gen.token_ids),
        },
    }
    return response
