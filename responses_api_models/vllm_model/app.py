"""vllm_model: serves the Responses API (and Chat Completions) in front of one or more vLLM OpenAI servers.

``/v1/responses`` is translated to Chat Completions (``nemo_gym.chat_translation``), sent to a backend chosen by
the rollout's session (stable hash; a failed backend is skipped for a while), and the reply translated back. In
training mode every reply carries the prompt and generated token ids and the generation logprobs.

Any OpenAI-compatible Chat Completions server works as the upstream: what a non-vLLM server refuses and has a
portable form (the ``developer`` role, vLLM-only fields, ...) is retried once in that form and remembered for that
upstream (``portability``).
"""

import copy
import hashlib
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import Body, HTTPException, Request, Response
from pydantic import model_validator

from nemo_gym.base_responses_api_model import BaseResponsesAPIModelConfig, SimpleResponsesAPIModel
from nemo_gym.chat_translation import (
    TranslationError,
    empty_completion,
    inline_reasoning_from_upstream,
    respond_via_chat,
    split_reasoning_for_upstream,
)
from nemo_gym.openai_utils import (
    NeMoGymAsyncOpenAI,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymResponseCreateParamsNonStreaming,
    UpstreamHTTPError,
    attach_token_ids,
    generation_token_fields,
    request_token_ids,
)
from nemo_gym.server_utils import RETRYABLE_EXCEPTIONS, SESSION_ID_KEY, default_retry_policy
from responses_api_models.vllm_model.portability import DialectBook, is_request_refusal

logger = logging.getLogger(__name__)

# vLLM's wordings of "the prompt plus the requested completion do not fit the context window".
CONTEXT_OVERFLOW = re.compile(
    r"context length|max_tokens must be at least 1|(max_tokens|max_completion_tokens).{0,40}too large|"
    r"is too long and exceeds",
    re.IGNORECASE,
)


class VLLMModelConfig(BaseResponsesAPIModelConfig):
    base_url: str | list[str]
    api_key: str
    # None: ask the upstream's /v1/models once and use the model it serves (vLLM serves one).
    model: str | None = None
    return_token_id_information: bool
    uses_reasoning_parser: bool
    replace_developer_role_with_system: bool = False
    chat_template_kwargs: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None
    default_headers: dict[str, str] | None = None
    # Upstream call budget per backend; unset fields use the global `http_client` retry policy (request_timeout_s
    # and max_concurrent_requests are the base model config's). A call that fails over tries each backend in
    # turn, so its total is at most len(base_url) * max_attempts upstream requests (twice that when a refused
    # field is retried in its portable form), each within request_timeout_s.
    max_attempts: int | None = None
    backend_cooldown_s: float = 30.0

    @model_validator(mode="before")
    @classmethod
    def _model_name_alias(cls, data: Any) -> Any:
        # The deployment guide overrides `+policy_model.vllm_model.model_name=...`; it names the served model.
        if isinstance(data, dict) and data.get("model_name"):
            data = {**data, "model": data["model_name"]}
        return data

    def model_post_init(self, context: Any) -> None:
        if isinstance(self.base_url, str):
            self.base_url = [self.base_url]
        if not self.base_url:
            raise ValueError("base_url must name at least one upstream")
        # vLLM's OpenAI routes live under /v1; a bare "http://host:10240" (as the deployment guide writes it) means it.
        self.base_url = [url.rstrip("/") + "/v1" if urlsplit(url).path in ("", "/") else url for url in self.base_url]


class BackendPool:
    """The upstream clients. A session always starts at the same backend (SHA-256 of its id, so every uvicorn
    worker agrees); a backend that failed is skipped for ``cooldown_s`` and its sessions move to the next one."""

    def __init__(self, clients: list[NeMoGymAsyncOpenAI], cooldown_s: float) -> None:
        self.clients = clients
        self.cooldown_s = cooldown_s
        self._down_until = [0.0] * len(clients)

    def candidates(self, session_id: str) -> list[int]:
        if len(self.clients) == 1:
            return [0]  # (tried even when marked down: there is nothing else to try)
        start = int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:8], "big") % len(self.clients)
        order = [(start + offset) % len(self.clients) for offset in range(len(self.clients))]
        now = time.monotonic()
        healthy = [index for index in order if self._down_until[index] <= now]
        # With every backend marked down, try them all rather than fail without trying.
        return healthy or order

    def mark_down(self, index: int, reason: str) -> None:
        if len(self.clients) > 1:
            logger.warning(
                "Upstream %s failed (%s); sending its sessions elsewhere for %.0fs",
                self.clients[index].base_url,
                reason,
                self.cooldown_s,
            )
        self._down_until[index] = time.monotonic() + self.cooldown_s


class VLLMModel(SimpleResponsesAPIModel):
    config: VLLMModelConfig

    def model_post_init(self, context: Any) -> None:
        policy = default_retry_policy().with_overrides(
            request_timeout_s=self.config.request_timeout_s, max_attempts=self.config.max_attempts
        )
        clients = [
            NeMoGymAsyncOpenAI(url, self.config.api_key, self.config.default_headers, retry_policy=policy)
            for url in self.config.base_url
        ]
        self._pool = BackendPool(clients, self.config.backend_cooldown_s)
        self._dialects = DialectBook(self.config.name)
        self._served_model: str | None = self.config.model

    async def served_model(self) -> str:
        """The configured ``model``, else the first model the upstream lists (asked once)."""
        if self._served_model is None:
            listing = await self._pool.clients[0].create_models()
            models = [entry.get("id") for entry in listing.get("data") or [] if entry.get("id")]
            if not models:
                raise HTTPException(status_code=502, detail=f"{self.config.name}: the upstream lists no model")
            self._served_model = models[0]
        return self._served_model

    async def responses(self, request: Request, body: NeMoGymResponseCreateParamsNonStreaming = Body()) -> Response:
        session_id = request.session[SESSION_ID_KEY]
        response = await respond_via_chat(
            body.model_dump(exclude_unset=True),
            lambda chat_params: self._complete(chat_params, session_id),
            model=await self.served_model(),
            keep_token_ids=self.config.return_token_id_information,
        )
        # Serialised once with orjson; the dicts already have the NeMoGymResponse shape.
        return Response(orjson.dumps(response), media_type="application/json")

    async def chat_completions(
        self, request: Request, body: NeMoGymChatCompletionCreateParamsNonStreaming = Body()
    ) -> Response:
        params = body.model_dump(exclude_unset=True)
        completion = await self._complete(params, request.session[SESSION_ID_KEY])
        return Response(orjson.dumps(completion), media_type="application/json")

    # ------------------------------------------------------------------------------------------- pipeline

    def _prepare(self, params: dict, model: str) -> tuple[dict, dict | None]:
        """The upstream body, and the ``chat_template_kwargs`` it uses (``/tokenize`` must use the same)."""
        config = self.config
        metadata = params.get("metadata") or {}
        template_kwargs = copy.deepcopy(config.chat_template_kwargs) or {}
        template_kwargs.update(_json_metadata(metadata, "chat_template_kwargs"))
        extra_body = {**(config.extra_body or {}), **_json_metadata(metadata, "extra_body")}
        if "chat_template_kwargs" in metadata or "extra_body" in metadata:
            params["metadata"] = {k: v for k, v in metadata.items() if k not in ("chat_template_kwargs", "extra_body")}

        for message in params["messages"]:
            if config.replace_developer_role_with_system and message.get("role") == "developer":
                message["role"] = "system"
            if config.uses_reasoning_parser and message.get("role") == "assistant":
                split_reasoning_for_upstream(message)
        params["model"] = model
        if template_kwargs:
            params["chat_template_kwargs"] = template_kwargs
        if config.return_token_id_information:
            try:
                request_token_ids(params)
            except ValueError as error:
                raise HTTPException(status_code=400, detail=str(error)) from None
        # Request keys win over extra_body.
        return ({**extra_body, **params} if extra_body else params), (template_kwargs or None)

    async def _complete(self, params: dict, session_id: str) -> dict:
        model = await self.served_model()
        upstream_body, template_kwargs = self._prepare(params, model)
        try:
            async with self.upstream_slot():
                completion, client = await self._call(upstream_body, session_id)
        except UpstreamHTTPError as error:
            text = error.response_content.decode("utf-8", errors="replace")
            if error.status >= 500 and is_request_refusal(error.status, text):
                # llama_cpp.server answers a request it cannot validate with 500; the request is at fault.
                where = f"{self.config.name}: the upstream {error.request_info.real_url}"
                detail = f"{where} refused the request (HTTP {error.status}): {_one_line(text)}"
                raise HTTPException(status_code=400, detail=detail) from None
            if error.status != 400 or not CONTEXT_OVERFLOW.search(text):
                raise
            logger.warning("%s: context window exceeded, answering with an empty reply: %s", self.config.name, text)
            return empty_completion(model)

        choice = completion["choices"][0]
        message = choice["message"]
        try:
            inline_reasoning_from_upstream(
                message, uses_reasoning_parser=self.config.uses_reasoning_parser, server_name=self.config.name
            )
        except TranslationError as error:
            raise RuntimeError(str(error)) from None
        if self.config.return_token_id_information:
            await self._attach_token_ids(completion, choice, client, upstream_body, template_kwargs)
        return completion

    async def _call(self, body: dict, session_id: str) -> tuple[dict, NeMoGymAsyncOpenAI]:
        """POST to the session's backend, moving on to the next one when it is unreachable or failing.

        Each backend spends its own retry budget (``max_attempts``) before the next is tried: at most
        ``len(base_url) * max_attempts`` upstream requests per call, then the last failure is raised."""
        candidates = self._pool.candidates(session_id)
        for position, index in enumerate(candidates):
            client = self._pool.clients[index]
            last = position == len(candidates) - 1
            try:
                return await self._call_portably(client, body), client
            except RETRYABLE_EXCEPTIONS as error:
                self._pool.mark_down(index, f"{type(error).__name__}: {error}")
                if last:
                    raise
            except UpstreamHTTPError as error:
                if is_request_refusal(error.status, error.response_content.decode("utf-8", errors="replace")):
                    raise
                self._pool.mark_down(index, f"HTTP {error.status}")
                if last:
                    raise
        raise AssertionError("unreachable: the pool always has a backend")

    async def _call_portably(self, client: NeMoGymAsyncOpenAI, body: dict) -> dict:
        """One upstream call in the dialect learnt for ``client``. When the upstream refuses a part of the request
        that has a portable form (``portability``), retry once with it and remember it if that succeeds."""
        dialect = self._dialects.get(client.base_url)
        refused_status = None
        while True:
            sent = dialect.adapt(body)
            try:
                completion = await client.create_chat_completion(**sent)
            except UpstreamHTTPError as error:
                text = error.response_content.decode("utf-8", errors="replace")
                fixed = None if CONTEXT_OVERFLOW.search(text) else dialect.fix_for(sent, error.status, text)
                if fixed is None:
                    raise
                dialect, refused_status = fixed, error.status
                continue
            if refused_status is not None:
                self._dialects.remember(client.base_url, dialect, refused_status)
            return completion

    async def _attach_token_ids(
        self, completion: dict, choice: dict, client: NeMoGymAsyncOpenAI, body: dict, template_kwargs: dict | None
    ) -> None:
        if choice["message"].get("prompt_token_ids") is not None:
            attach_token_ids(choice)  # a training-side server (NeMo RL) already attached the bundle
            return
        try:
            generation = generation_token_fields(choice)
        except ValueError:
            raise self._no_token_ids(client, "its logprob tokens are text, not `token_id:N`") from None
        except (RuntimeError, KeyError, TypeError) as error:
            raise self._no_token_ids(client, str(error) or "no logprobs in its reply") from None
        prompt_ids = completion.pop("prompt_token_ids", None)
        if prompt_ids is None:
            tokenize_body: dict[str, Any] = {"model": body["model"], "messages": body["messages"]}
            if body.get("tools"):
                tokenize_body["tools"] = body["tools"]
            if template_kwargs:
                tokenize_body["chat_template_kwargs"] = template_kwargs
            try:
                prompt_ids = (await client.create_tokenize(**tokenize_body))["tokens"]
            except UpstreamHTTPError as error:
                if error.status not in (404, 405, 501):
                    raise
                reason = f"no `prompt_token_ids` and HTTP {error.status} from {client.root_url}/tokenize"
                raise self._no_token_ids(client, reason) from None
        attach_token_ids(choice, prompt_ids, generation)

    def _no_token_ids(self, client: NeMoGymAsyncOpenAI, reason: str) -> HTTPException:
        return HTTPException(
            status_code=502,
            detail=(
                f"{self.config.name}: the upstream {client.base_url} does not return token ids ({reason}); "
                "return_token_id_information: true (training) needs a server that does, such as vLLM's OpenAI server"
            ),
        )


def _one_line(error_body: str, limit: int = 1000) -> str:
    """An upstream error body as one short line: its OpenAI-style ``error.message`` when it has one."""
    try:
        parsed = orjson.loads(error_body)
        message = parsed["error"]["message"] if isinstance(parsed.get("error"), dict) else error_body
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        message = error_body
    return " ".join(str(message).split())[:limit]


def _json_metadata(metadata: dict, key: str) -> dict:
    """Per-request overrides carried as JSON strings in ``metadata`` (Responses metadata values are strings)."""
    raw = metadata.get(key)
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPException(status_code=400, detail=f"metadata.{key} must be a JSON object string") from None
    if not isinstance(value, dict):
        raise HTTPException(status_code=400, detail=f"metadata.{key} must be a JSON object string")
    return value


if __name__ == "__main__":
    VLLMModel.run_webserver()
