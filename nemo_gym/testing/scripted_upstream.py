"""A scripted OpenAI-compatible server speaking vLLM's wire format, for tests and benchmarks.

Routes: ``POST /v1/chat/completions`` (also at Azure's ``/openai/deployments/<name>/chat/completions``; tool
calls, ``<think>`` text or ``reasoning_content``, logprobs with ``token_id:N`` tokens, ``prompt_token_ids`` and
``token_ids`` on ``return_token_ids``, ``finish_reason: length``), ``POST /tokenize``, ``GET /v1/models``,
``POST /v1/responses`` and ``GET /health``. What it answers comes from
``scripted_behaviour`` (rules, else the built-in default). Latency, random faults, a context-length limit and
refusals of named fields or message roles (a server stricter than vLLM) are options. Built on aiohttp.web so it is
never the bottleneck of a 16k-concurrency run.

In-process use::

    with ScriptedUpstream(rules=[...], latency=0.1) as upstream:
        client = NeMoGymAsyncOpenAI(base_url=upstream.base_url, api_key="x")

Stand-alone: ``python -m nemo_gym.testing.scripted_upstream --port 8000 [--rules rules.json] [--latency 0.5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from nemo_gym.testing.scripted_behaviour import (
    FAULT_KINDS,
    Conversation,
    Decision,
    RuleBook,
    ScriptedReply,
    piece_id,
    piece_logprob,
    render_prompt,
    split_pieces,
    tokenize,
)

logger = logging.getLogger(__name__)

REASONING_MODES = ("think_tags", "reasoning_content", "reasoning")


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class _Generation:
    content: str | None
    reasoning: str | None
    tool_calls: list[dict]
    finish_reason: str
    token_ids: list[int]
    pieces: list[str]
    tagged_text: str  # reasoning inline as <think>...</think> (unclosed if cut off), then the content


def _error(status: int, message: str, error_type: str) -> web.Response:
    # vLLM's ErrorResponse shape.
    body = {"error": {"message": message, "type": error_type, "param": None, "code": status}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _json(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


class ScriptedUpstream:
    """The server state and handlers. Options may be changed between requests (tests flip ``error_rate``)."""

    def __init__(
        self,
        rules: list[dict] | None = None,
        *,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        error_rate: float = 0.0,
        error_kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        model: str = "scripted-model",
        reasoning_mode: str = "think_tags",
        max_model_len: int | None = None,
        hang_seconds: float = 600.0,
        record_limit: int = 1000,
        supports_return_token_ids: bool = True,
        refused_fields: tuple[str, ...] = (),
        refused_roles: tuple[str, ...] = (),
    ) -> None:
        if reasoning_mode not in REASONING_MODES:
            raise ValueError(f"reasoning_mode must be one of {REASONING_MODES}, got {reasoning_mode!r}")
        self.rules = RuleBook(rules)
        self.latency, self.latency_jitter = latency, latency_jitter
        self.error_rate, self.error_kinds = error_rate, tuple(error_kinds)
        self.seed, self.model, self.reasoning_mode = seed, model, reasoning_mode
        self.max_model_len, self.hang_seconds = max_model_len, hang_seconds
        self.requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        # False behaves like vLLM < 0.10.2, which ignores `return_token_ids` (clients must call /tokenize).
        self.supports_return_token_ids = supports_return_token_ids
        # A server stricter than vLLM: these request (or message) fields get OpenAI's 400 for an unknown argument,
        # these message roles llama_cpp.server's 500 for a failed validation.
        self.refused_fields, self.refused_roles = tuple(refused_fields), tuple(refused_roles)
        self._rng = random.Random(seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    # ------------------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://127.0.0.1:PORT/v1``."""
        if self.url is None:
            raise RuntimeError("ScriptedUpstream is not started")
        return self.url + "/v1"

    def set_rules(self, rules: list[dict] | None) -> None:
        self.rules = RuleBook(rules)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/responses", self.responses)
        # Azure OpenAI's path for the same endpoint (the deployment names the model).
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self.chat_completions)
        app.router.add_post("/tokenize", self.tokenize)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        return app

    async def start_async(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on the running loop; returns ``http://host:port``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=16384).start()
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        return self.url

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread with its own event loop; returns the base URL (``.../v1``)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self.start_async(host, port))
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.stop_async())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="scripted-upstream", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> ScriptedUpstream:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------- handlers

    async def _read(self, request: web.Request) -> Any:
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        self.requests.append(RecordedRequest(request.method, request.path, body, dict(request.headers)))
        return body

    async def health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def models(self, request: web.Request) -> web.Response:
        self.requests.append(RecordedRequest(request.method, request.path, None, dict(request.headers)))
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "scripted"}
        model["max_model_len"] = self.max_model_len
        return _json({"object": "list", "data": [model]})

    async def tokenize(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        if "messages" in body:
            text = render_prompt(body["messages"], body.get("tools"), body.get("chat_template_kwargs"))
        else:
            text = body.get("prompt", "")
        tokens = tokenize(text)
        return _json({"count": len(tokens), "max_model_len": self.max_model_len, "tokens": tokens, "token_strs": None})

    async def _apply_decision(self, decision: Decision, request: web.Request) -> web.Response | None:
        """Sleep the latency and carry out a fault; returns the fault's response or None to answer normally."""
        fault = decision.fault
        if fault is None and self.error_rate and self._rng.random() < self.error_rate:
            fault = self._rng.choice(self.error_kinds)
        delay = self.latency + decision.latency
        if self.latency_jitter:
            delay += self._rng.random() * self.latency_jitter
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is None:
            return None
        if isinstance(fault, dict):
            return web.Response(status=int(fault["status"]), body=orjson.dumps(fault.get("body", {})))
        if fault == "5xx":
            return _error(503, "Service Unavailable (scripted fault)", "ServiceUnavailableError")
        if fault == "429":
            return _error(429, "Too Many Requests (scripted fault)", "RateLimitError")
        if fault == "context_length":
            return self._context_length_error(32818, 32000)
        if fault == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return _error(504, "Gateway Timeout (scripted fault)", "TimeoutError")
        if fault == "reset":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # the connection is gone; nothing can be answered
        raise ValueError(f"Unknown scripted fault {fault!r}; expected one of {FAULT_KINDS} or a status object")

    def _refusal(self, body: dict) -> web.Response | None:
        for name in self.refused_fields:
            if name in body:
                return _error(400, f"Unrecognized request argument supplied: {name}", "invalid_request_error")
        for index, message in enumerate(body["messages"]):
            for name in self.refused_fields:
                if isinstance(message, dict) and name in message:
                    return _error(400, f"Invalid 'messages[{index}]': unknown parameter '{name}'.", "BadRequestError")
            role = message.get("role") if isinstance(message, dict) else None
            if role in self.refused_roles:
                # llama_cpp.server's wording: a pydantic validation error, served as 500.
                where = f"'loc': ('body', 'messages', {index}, 'role')"
                error = f"{{'type': 'literal_error', {where}, 'msg': \"Input should be 'system'\", 'input': {role!r}}}"
                return _error(500, f"1 validation error:\n  {error}", "internal_server_error")
        return None

    def _context_length_error(self, requested: int, completion: int) -> web.Response:
        limit = self.max_model_len or 32768
        message = (
            f"This model's maximum context length is {limit} tokens. However, you requested {requested} tokens "
            f"({requested - completion} in the messages, {completion} in the completion). Please reduce the length "
            "of the messages or completion."
        )
        return _error(400, message, "BadRequestError")

    def _generate(self, reply: ScriptedReply, max_tokens: int | None) -> _Generation:
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
            return _Generation(content, reasoning, [], "length", [piece_id(p) for p in pieces], pieces, text)
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        tagged = (f"<think>{reply.reasoning}</think>" if reply.reasoning is not None else "") + (reply.content or "")
        token_ids = [piece_id(p) for p in pieces]
        return _Generation(reply.content, reply.reasoning, reply.tool_calls, finish, token_ids, pieces, tagged)

    def _message(self, gen: _Generation) -> dict:
        content = gen.tagged_text if self.reasoning_mode == "think_tags" else gen.content or ""
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
        if self.reasoning_mode != "think_tags":
            message[self.reasoning_mode] = gen.reasoning
        return message

    def _logprobs(self, gen: _Generation, as_token_ids: bool, top: int) -> dict:
        entries = []
        for piece, token_id in zip(gen.pieces, gen.token_ids, strict=True):
            token = f"token_id:{token_id}" if as_token_ids else piece
            logprob = piece_logprob(token_id, self.seed)
            entry = {"token": token, "logprob": logprob, "bytes": list(piece.encode()), "top_logprobs": []}
            for rank in range(top):
                entry["top_logprobs"].append({"token": token, "logprob": logprob - rank, "bytes": entry["bytes"]})
            entries.append(entry)
        return {"content": entries}

    async def chat_completions(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
        except orjson.JSONDecodeError:
            return _error(400, "Request body is not valid JSON", "BadRequestError")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "messages must be a non-empty list", "BadRequestError")
        refusal = self._refusal(body)
        if refusal is not None:
            return refusal
        decision = self.rules.decide(Conversation.from_chat(body))
        fault_response = await self._apply_decision(decision, request)
        if fault_response is not None:
            return fault_response
        prompt = render_prompt(body["messages"], body.get("tools"), body.get("chat_template_kwargs"))
        prompt_ids = tokenize(prompt)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if self.max_model_len is not None and len(prompt_ids) + (max_tokens or 0) > self.max_model_len:
            return self._context_length_error(len(prompt_ids) + (max_tokens or 0), max_tokens or 0)
        gen = self._generate(decision.reply, max_tokens)
        choices = []
        for index in range(body.get("n") or 1):
            choice: dict[str, Any] = {
                "index": index,
                "message": self._message(gen),
                "logprobs": None,
                "finish_reason": gen.finish_reason,
                "stop_reason": None,
            }
            if body.get("logprobs"):
                top = body.get("top_logprobs") or 0
                choice["logprobs"] = self._logprobs(gen, bool(body.get("return_tokens_as_token_ids")), top)
            if body.get("return_token_ids") and self.supports_return_token_ids:
                choice["token_ids"] = gen.token_ids
            choices.append(choice)
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": choices,
            "service_tier": None,
            "system_fingerprint": None,
            "usage": {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": len(gen.token_ids),
                "total_tokens": len(prompt_ids) + len(gen.token_ids),
                "prompt_tokens_details": None,
            },
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }
        if body.get("return_token_ids") and self.supports_return_token_ids:
            completion["prompt_token_ids"] = prompt_ids
        return _json(completion)

    async def responses(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
        except orjson.JSONDecodeError:
            return _error(400, "Request body is not valid JSON", "BadRequestError")
        if not isinstance(body, dict) or "input" not in body:
            return _error(400, "input is required", "BadRequestError")
        conv = Conversation.from_responses(body)
        decision = self.rules.decide(conv)
        fault_response = await self._apply_decision(decision, request)
        if fault_response is not None:
            return fault_response
        prompt_tokens = len(tokenize(conv.prompt_text))
        gen = self._generate(decision.reply, body.get("max_output_tokens"))
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
            "model": body.get("model") or self.model,
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
        return _json(response)


def _load_rules_file(path: str) -> tuple[list[dict], dict]:
    """A rules file is a list of rules, or ``{"rules": [...], <option>: value, ...}``."""
    data = orjson.loads(Path(path).read_bytes())
    if isinstance(data, list):
        return data, {}
    return data.pop("rules", []), data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible upstream (vLLM wire format)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rules", help="JSON file: a list of rules or {'rules': [...], options...}")
    parser.add_argument("--latency", type=float, default=None, help="seconds before every answer")
    parser.add_argument("--latency-jitter", type=float, default=None)
    parser.add_argument("--error-rate", type=float, default=None, help="fraction of requests given a random fault")
    parser.add_argument("--error-kinds", default=None, help=f"comma-separated subset of {','.join(FAULT_KINDS)}")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--reasoning-mode", choices=REASONING_MODES, default=None)
    parser.add_argument("--max-model-len", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    rules, options = _load_rules_file(args.rules) if args.rules else ([], {})
    for name in ("latency", "latency_jitter", "error_rate", "seed", "model", "reasoning_mode", "max_model_len"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.error_kinds:
        options["error_kinds"] = tuple(kind.strip() for kind in args.error_kinds.split(","))
    upstream = ScriptedUpstream(rules, **options)

    async def serve() -> None:
        url = await upstream.start_async(args.host, args.port)
        logger.info("scripted upstream listening on %s (OpenAI base URL %s/v1)", url, url)
        await asyncio.Event().wait()

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
