"""What the scripted upstream answers: rules, the built-in default behaviour, and a deterministic fake tokenizer.

Everything here is pure (no I/O) so the HTTP layer in ``scripted_upstream`` stays thin.

A rule is a JSON object; all of its ``match`` conditions must hold, the first matching rule wins::

    {"match": {"last_user_regex": "weather", "has_tool_output": false, "tools_include": ["get_weather"],
               "endpoint": "chat", "prompt_regex": "..."},
     "reply": {"content": "It is {tool_output}", "reasoning": "...", "finish_reason": "stop",
               "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
     "fault": "5xx" | "429" | "timeout" | "reset" | "context_length" | {"status": 503, "body": {...}},
     "latency": 0.5,
     "times": 2}

``times`` limits how often a rule fires (then later rules or the default take over), which scripts sequences
such as "two 503s, then success". ``{last_user}`` and ``{tool_output}`` in reply text are substituted.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

SPECIAL_TOKENS = {"<|im_start|>": 151644, "<|im_end|>": 151645, "<think>": 151667, "</think>": 151668}
_SPECIAL_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
_PIECE = re.compile(r"\s+|\w+|[^\w\s]")
FAULT_KINDS = ("5xx", "429", "timeout", "reset", "context_length")


def split_pieces(text: str) -> list[str]:
    """Split text into the fake tokenizer's pieces; joining them gives the text back exactly."""
    pieces: list[str] = []
    for chunk in _SPECIAL_SPLIT.split(text):
        if chunk in SPECIAL_TOKENS:
            pieces.append(chunk)
        elif chunk:
            pieces.extend(_PIECE.findall(chunk))
    return pieces


def piece_id(piece: str) -> int:
    special = SPECIAL_TOKENS.get(piece)
    return special if special is not None else 10 + zlib.crc32(piece.encode()) % 150_000


def tokenize(text: str) -> list[int]:
    return [piece_id(p) for p in split_pieces(text)]


def piece_logprob(token_id: int, seed: int) -> float:
    return -((token_id * 7919 + seed) % 1000) / 1000.0


def message_text(content: Any) -> str:
    """Text of a chat or Responses content value (a string, a list of parts, or None)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text") or "" for part in content if isinstance(part, dict))


def render_prompt(messages: list[dict], tools: list[dict] | None, chat_template_kwargs: dict | None) -> str:
    """A Qwen-like chat template; ``/tokenize`` and generation use it alike, so their prompt ids agree."""
    parts = []
    if tools:
        parts.append("<|im_start|>system\n# Tools\n" + orjson.dumps(tools).decode() + "<|im_end|>\n")
    for message in messages:
        text = message_text(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if reasoning:
            text = f"<think>{reasoning}</think>{text}"
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            text += "<tool_call>" + orjson.dumps(function).decode() + "</tool_call>"
        parts.append(f"<|im_start|>{message.get('role')}\n{text}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    if chat_template_kwargs and chat_template_kwargs.get("enable_thinking") is False:
        parts.append("<think>\n\n</think>\n\n")
    return "".join(parts)


@dataclass
class Conversation:
    """The parts of a request the rules look at, the same for Chat Completions and Responses bodies."""

    endpoint: str
    last_user: str = ""
    tool_outputs: list[str] = field(default_factory=list)
    tools: list[dict] = field(default_factory=list)  # [{"name", "parameters"}]
    tool_choice: Any = None
    prompt_text: str = ""

    @classmethod
    def from_chat(cls, body: dict) -> Conversation:
        conv = cls(endpoint="chat", tool_choice=body.get("tool_choice"))
        for tool in body.get("tools") or []:
            function = tool.get("function") or {}
            conv.tools.append({"name": function.get("name"), "parameters": function.get("parameters") or {}})
        texts = []
        for message in body.get("messages") or []:
            text = message_text(message.get("content"))
            texts.append(text)
            if message.get("role") == "user":
                conv.last_user, conv.tool_outputs = text, []
            elif message.get("role") == "tool":
                conv.tool_outputs.append(text)
        conv.prompt_text = "\n".join(texts)
        return conv

    @classmethod
    def from_responses(cls, body: dict) -> Conversation:
        conv = cls(endpoint="responses", tool_choice=body.get("tool_choice"))
        for tool in body.get("tools") or []:
            if tool.get("type") == "function":
                conv.tools.append({"name": tool.get("name"), "parameters": tool.get("parameters") or {}})
        items = body.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        texts = [body.get("instructions") or ""]
        for item in items or []:
            if item.get("type") == "function_call_output":
                output = item.get("output")
                conv.tool_outputs.append(output if isinstance(output, str) else orjson.dumps(output).decode())
                texts.append(conv.tool_outputs[-1])
            elif item.get("type", "message") == "message":
                text = message_text(item.get("content"))
                texts.append(text)
                if item.get("role") == "user":
                    conv.last_user, conv.tool_outputs = text, []
        conv.prompt_text = "\n".join(texts)
        return conv


@dataclass
class ScriptedReply:
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict] = field(default_factory=list)  # [{"name", "arguments": str}]
    finish_reason: str | None = None


@dataclass
class Decision:
    """The outcome of matching one request: a reply, or a fault to inject, plus extra latency."""

    reply: ScriptedReply | None = None
    fault: Any = None
    latency: float = 0.0


_CITY = re.compile(r"\b(?:in|for|at)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def plausible_arguments(parameters: dict, user_text: str) -> dict:
    """Arguments for a JSON schema guessed from the user message (a city for ``city``/``location``, numbers...)."""
    properties = parameters.get("properties") or {}
    names = parameters.get("required") or list(properties)
    arguments: dict[str, Any] = {}
    for name in names:
        schema = properties.get(name) or {}
        kind = schema.get("type")
        if schema.get("enum"):
            arguments[name] = schema["enum"][0]
        elif kind in ("integer", "number"):
            match = _NUMBER.search(user_text)
            value = float(match.group()) if match else 0
            arguments[name] = int(value) if kind == "integer" else value
        elif kind == "boolean":
            arguments[name] = True
        elif kind == "array":
            arguments[name] = []
        elif kind == "object":
            arguments[name] = {}
        elif any(word in name.lower() for word in ("city", "location", "place", "town", "country")):
            match = _CITY.search(user_text) or _CAPITALISED.search(user_text)
            arguments[name] = match.group(1).strip() if match else user_text.strip()
        else:
            arguments[name] = user_text.strip()
    return arguments


def default_reply(conv: Conversation) -> ScriptedReply:
    """Call the first offered tool once, then answer with the tool output; without tools, echo the user."""
    wants_tool = conv.tool_choice != "none" and conv.tools and not conv.tool_outputs
    if wants_tool:
        tool = conv.tools[0]
        if isinstance(conv.tool_choice, dict):
            chosen = conv.tool_choice.get("name") or (conv.tool_choice.get("function") or {}).get("name")
            tool = next((t for t in conv.tools if t["name"] == chosen), tool)
        arguments = orjson.dumps(plausible_arguments(tool["parameters"], conv.last_user)).decode()
        return ScriptedReply(tool_calls=[{"name": tool["name"], "arguments": arguments}])
    if conv.tool_outputs:
        return ScriptedReply(content="Here is what I found: " + "\n".join(conv.tool_outputs))
    return ScriptedReply(content="You said: " + conv.last_user)


def _substitute(text: str, conv: Conversation) -> str:
    return text.replace("{last_user}", conv.last_user).replace("{tool_output}", "\n".join(conv.tool_outputs))


class RuleBook:
    """Ordered rules with per-rule firing counters (not thread-safe; the server runs on one event loop)."""

    def __init__(self, rules: list[dict] | None = None) -> None:
        self.rules = [dict(rule) for rule in rules or []]
        self._fired = [0] * len(self.rules)

    def _matches(self, match: dict, conv: Conversation) -> bool:
        if "endpoint" in match and match["endpoint"] != conv.endpoint:
            return False
        if "last_user_regex" in match and not re.search(match["last_user_regex"], conv.last_user, re.DOTALL):
            return False
        if "prompt_regex" in match and not re.search(match["prompt_regex"], conv.prompt_text, re.DOTALL):
            return False
        if "has_tool_output" in match and bool(conv.tool_outputs) != bool(match["has_tool_output"]):
            return False
        offered = {tool["name"] for tool in conv.tools}
        if "tools_include" in match and not set(match["tools_include"]) <= offered:
            return False
        return True

    def decide(self, conv: Conversation) -> Decision:
        for index, rule in enumerate(self.rules):
            if "times" in rule and self._fired[index] >= rule["times"]:
                continue
            if not self._matches(rule.get("match") or {}, conv):
                continue
            self._fired[index] += 1
            decision = Decision(fault=rule.get("fault"), latency=float(rule.get("latency") or 0.0))
            if "reply" in rule:
                spec = rule["reply"]
                calls = []
                for call in spec.get("tool_calls") or []:
                    arguments = call.get("arguments", {})
                    if not isinstance(arguments, str):
                        arguments = orjson.dumps(arguments).decode()
                    calls.append({"name": call["name"], "arguments": arguments})
                content = spec.get("content")
                decision.reply = ScriptedReply(
                    content=_substitute(content, conv) if isinstance(content, str) else None,
                    reasoning=spec.get("reasoning"),
                    tool_calls=calls,
                    finish_reason=spec.get("finish_reason"),
                )
            elif decision.fault is None:
                decision.reply = default_reply(conv)
            return decision
        return Decision(reply=default_reply(conv))
