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
    render_prompt,
    tokenize,
)
from nemo_gym.testing.scripted_replies import (
    chat_logprobs,
    chat_message,
    error_response,
    generate,
    json_response,
    responses_body,
)

logger = logging.getLogger(__name__)

REASONING_MODES = ("think_tags", "reasoning_content", "reasoning")


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


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
        return json_response({"status": "ok"})

    async def models(self, request: web.Request) -> web.Response:
        self.requests.append(RecordedRequest(request.method, request.path, None, dict(request.headers)))
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "scripted"}
        model["max_model_len"] = self.max_model_len
        return json_response({"object": "list", "data": [model]})

    async def tokenize(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        if "messages" in body:
            text = render_prompt(body["messages"], body.get("tools"), body.get("chat_template_kwargs"))
        else:
            text = body.get("prompt", "")
        tokens = tokenize(text)
        return json_response(
            {"count": len(tokens), "max_model_len": self.max_model_len, "tokens": tokens, "token_strs": None}
        )

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
            return error_response(503, "Service Unavailable (scripted fault)", "ServiceUnavailableError")
        if fault == "429":
            return error_response(429, "Too Many Requests (scripted fault)", "RateLimitError")
        if fault == "context_length":
            return self._context_lengtherror_response(32818, 32000)
        if fault == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return error_response(504, "Gateway Timeout (scripted fault)", "TimeoutError")
        if fault == "reset":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # the connection is gone; nothing can be answered
        raise ValueError(f"Unknown scripted fault {fault!r}; expected one of {FAULT_KINDS} or a status object")

    def _refusal(self, body: dict) -> web.Response | None:
        for name in self.refused_fields:
            if name in body:
                return error_response(400, f"Unrecognized request argument supplied: {name}", "invalid_request_error")
        for index, message in enumerate(body["messages"]):
            for name in self.refused_fields:
                if isinstance(message, dict) and name in message:
                    return error_response(
                        400, f"Invalid 'messages[{index}]': unknown parameter '{name}'.", "BadRequestError"
                    )
            role = message.get("role") if isinstance(message, dict) else None
            if role in self.refused_roles:
                # llama_cpp.server's wording: a pydantic validation error, served as 500.
                where = f"'loc': ('body', 'messages', {index}, 'role')"
                error = f"{{'type': 'literal_error', {where}, 'msg': \"Input should be 'system'\", 'input': {role!r}}}"
                return error_response(500, f"1 validation error:\n  {error}", "internal_server_error")
        return None

    def _context_lengtherror_response(self, requested: int, completion: int) -> web.Response:
        limit = self.max_model_len or 32768
        message = (
            f"This model's maximum context length is {limit} tokens. However, you requested {requested} tokens "
            f"({requested - completion} in the messages, {completion} in the completion). Please reduce the length "
            "of the messages or completion."
        )
        return error_response(400, message, "BadRequestError")

    async def chat_completions(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
        except orjson.JSONDecodeError:
            return error_response(400, "Request body is not valid JSON", "BadRequestError")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return error_response(400, "messages must be a non-empty list", "BadRequestError")
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
            return self._context_lengtherror_response(len(prompt_ids) + (max_tokens or 0), max_tokens or 0)
        gen = generate(decision.reply, max_tokens)
        choices = []
        for index in range(body.get("n") or 1):
            choice: dict[str, Any] = {
                "index": index,
                "message": chat_message(gen, self.reasoning_mode),
                "logprobs": None,
                "finish_reason": gen.finish_reason,
                "stop_reason": None,
            }
            if body.get("logprobs"):
                top = body.get("top_logprobs") or 0
                choice["logprobs"] = chat_logprobs(gen, bool(body.get("return_tokens_as_token_ids")), top, self.seed)
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
        return json_response(completion)

    async def responses(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
        except orjson.JSONDecodeError:
            return error_response(400, "Request body is not valid JSON", "BadRequestError")
        if not isinstance(body, dict) or "input" not in body:
            return error_response(400, "input is required", "BadRequestError")
        conv = Conversation.from_responses(body)
        decision = self.rules.decide(conv)
        fault_response = await self._apply_decision(decision, request)
        if fault_response is not None:
            return fault_response
        prompt_tokens = len(tokenize(conv.prompt_text))
        gen = generate(decision.reply, body.get("max_output_tokens"))
        return json_response(responses_body(gen, body, prompt_tokens, self.model))


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
