"""Chat Completions params -> ``Llama.create_chat_completion`` keyword arguments, and the reply back.

The Responses <-> Chat translation itself lives in ``nemo_gym.chat_translation``; this module only adapts a
Chat Completions request to what llama-cpp-python's chat handlers can render and accept:

* message content is a plain string (text parts joined by newlines); images, audio and files are refused;
* ``developer`` becomes ``system`` and ``tool`` results become ``user`` turns, because the chatml templates of
  llama-cpp-python render only system/user/assistant and would silently drop the others;
* ``tool_choice`` defaults to ``"auto"`` when tools are sent (OpenAI semantics; the handler ignores tools
  without it), and chatml-function-calling gets an empty system message to carry the tool list when the request
  has none (the handler lists tools only inside a system turn);
* only parameters ``create_chat_completion`` knows are passed; ``n`` must be 1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

FUNCTION_CALLING_FORMAT = "chatml-function-calling"

# Request keys passed to create_chat_completion unchanged.
_PASSTHROUGH = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "logprobs",
    "top_logprobs",
)
_MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


class UnsupportedRequestError(ValueError):
    """The request asks for something the embedded engine cannot do (the message says what); a client error."""


@dataclass(frozen=True)
class LlamaRequest:
    """What the worker thread runs: ``create_chat_completion(**kwargs)`` after seeding with ``seed``."""

    kwargs: dict[str, Any]
    seed: int | None
    parallel_tool_calls: bool


def _text_content(content: Any, role: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        part_type = part.get("type")
        if part_type not in ("text", "input_text", "output_text", "refusal"):
            raise UnsupportedRequestError(
                f"local_model serves a text-only model: {part_type!r} content in a {role} message is not supported"
            )
        texts.append(part.get("text") or part.get("refusal") or "")
    return "\n".join(texts)


def _tool_result_turn(message: dict, call_names: dict[str, str]) -> dict:
    name = call_names.get(message.get("tool_call_id") or "", "the function")
    return {"role": "user", "content": f"functions.{name} returned:\n{_text_content(message.get('content'), 'tool')}"}


def adapt_messages(messages: list[dict], *, chat_format: str | None, has_tools: bool) -> list[dict]:
    """Messages llama-cpp-python's chat handlers render faithfully (see the module docstring)."""
    adapted: list[dict] = []
    call_names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "tool":
            adapted.append(_tool_result_turn(message, call_names))
            continue
        # None values break the handlers' templates (`'tool_calls' in message` is true for a None value).
        clean = {key: message[key] for key in _MESSAGE_KEYS if message.get(key) is not None}
        clean["role"] = "system" if role == "developer" else role
        clean["content"] = _text_content(message.get("content"), role)
        for call in clean.get("tool_calls") or []:
            call_names[call.get("id") or ""] = (call.get("function") or {}).get("name") or "the function"
        adapted.append(clean)
    if chat_format == FUNCTION_CALLING_FORMAT and has_tools and not any(m["role"] == "system" for m in adapted):
        adapted.insert(0, {"role": "system", "content": ""})
    return adapted


def _tool_choice(params: dict, tools: list[dict]) -> Any:
    choice = params.get("tool_choice") or "auto"
    if choice == "required":
        if len(tools) == 1:
            return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        # chatml-function-calling knows only auto/none/named; with this handler "auto" always starts with a
        # grammar-constrained choice between a call and a message, the closest it has to "required".
        logger.warning("tool_choice 'required' with several tools is served as 'auto' by llama-cpp-python")
        return "auto"
    return choice


def build_llama_request(
    params: dict, *, model: str, chat_format: str | None, max_output_tokens_default: int | None
) -> LlamaRequest:
    """The engine call for Chat Completions ``params`` (the ``exclude_unset`` dump of a request)."""
    if (params.get("n") or 1) != 1:
        raise UnsupportedRequestError("local_model generates one choice per request: n must be 1")
    tools = params.get("tools") or []
    kwargs: dict[str, Any] = {
        "messages": adapt_messages(params["messages"], chat_format=chat_format, has_tools=bool(tools)),
        "model": model,
    }
    for name in _PASSTHROUGH:
        if params.get(name) is not None:
            kwargs[name] = params[name]
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens") or max_output_tokens_default
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if params.get("logit_bias"):
        kwargs["logit_bias"] = {int(token): bias for token, bias in params["logit_bias"].items()}
    if tools:
        kwargs["tools"] = tools
        kwargs["tool_choice"] = _tool_choice(params, tools)
    return LlamaRequest(
        kwargs=kwargs, seed=params.get("seed"), parallel_tool_calls=params.get("parallel_tool_calls", True)
    )


def finish_completion(completion: dict, request: LlamaRequest) -> dict:
    """Tidy the engine's reply into a plain Chat Completion, in place."""
    for choice in completion.get("choices") or []:
        message = choice.get("message") or {}
        # The handler also fills the deprecated `function_call` (with a trailing ':' in the name).
        message.pop("function_call", None)
        calls = message.get("tool_calls")
        if calls and not request.parallel_tool_calls:
            message["tool_calls"] = calls[:1]
    return completion
