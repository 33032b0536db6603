"""How vllm_model talks to an OpenAI-compatible Chat Completions server that is not vLLM.

vllm_model writes requests for vLLM: ``developer`` messages, vLLM's extra fields (``chat_template_kwargs``,
``return_token_ids``, ``skip_special_tokens``, ...), a reasoning parser's ``reasoning_content`` on replayed assistant
messages, ``max_tokens``, ``content: null`` on an assistant turn that only calls tools. Other servers refuse some of
these (llama.cpp's ``llama_cpp.server`` has no ``developer`` role and wants string content; OpenAI refuses fields it
does not know). When an upstream refuses a request *and the error says which part*,
:meth:`Dialect.fix_for` names the portable form; the caller retries once with it and, if that succeeds, remembers it
for that upstream (:class:`DialectBook`, keyed by base URL) so later requests are sent portable from the start.

Nothing is changed before a refusal: a vLLM upstream always gets the full request.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from dataclasses import dataclass

from nemo_gym.chat_translation import REASONING_FIELDS

logger = logging.getLogger(__name__)

# Top-level request fields that vLLM's OpenAI server understands and the OpenAI API does not.
VLLM_ONLY_FIELDS = frozenset(
    {
        "add_generation_prompt",
        "allowed_token_ids",
        "bad_words",
        "cache_salt",
        "chat_template",
        "chat_template_kwargs",
        "continue_final_message",
        "documents",
        "guided_choice",
        "guided_decoding_backend",
        "guided_grammar",
        "guided_json",
        "guided_regex",
        "ignore_eos",
        "include_stop_str_in_output",
        "kv_transfer_params",
        "length_penalty",
        "min_p",
        "min_tokens",
        "mm_processor_kwargs",
        "priority",
        "prompt_logprobs",
        "repetition_penalty",
        "request_id",
        "return_token_ids",
        "return_tokens_as_token_ids",
        "skip_special_tokens",
        "spaces_between_special_tokens",
        "stop_token_ids",
        "structured_outputs",
        "top_k",
        "truncate_prompt_tokens",
        "use_beam_search",
    }
)
# Statuses with which servers refuse a request body (llama_cpp.server answers a validation error with 500).
REFUSAL_STATUSES = frozenset({400, 422, 500})
_DEVELOPER = re.compile(r"\bdeveloper\b", re.IGNORECASE)
_REASONING_FIELD = re.compile(r"\b(" + "|".join(REASONING_FIELDS) + r")\b")
_MAX_COMPLETION_TOKENS = re.compile(r"\bmax_completion_tokens\b")
_NULL_CONTENT = re.compile(r"\bcontent\b.{0,80}(valid string|null|None)", re.DOTALL)
# A request-validation error that a server answers with 500 (llama_cpp.server does): the request is at fault.
_VALIDATION_ERROR = re.compile(r"\d+ validation errors?\b.*\('body'", re.DOTALL)


@dataclass(frozen=True)
class Dialect:
    """What to change in every request to one upstream. The default changes nothing (vLLM)."""

    developer_as_system: bool = False
    dropped_fields: frozenset[str] = frozenset()
    reasoning_inline: bool = False
    max_completion_tokens: bool = False
    empty_string_content: bool = False

    def merged(self, other: Dialect) -> Dialect:
        """Both sets of changes (two requests may learn different things at the same time)."""
        return Dialect(
            developer_as_system=self.developer_as_system or other.developer_as_system,
            dropped_fields=self.dropped_fields | other.dropped_fields,
            reasoning_inline=self.reasoning_inline or other.reasoning_inline,
            max_completion_tokens=self.max_completion_tokens or other.max_completion_tokens,
            empty_string_content=self.empty_string_content or other.empty_string_content,
        )

    def describe(self) -> list[str]:
        changes = []
        if self.developer_as_system:
            changes.append("sending `developer` messages as `system`")
        if self.dropped_fields:
            changes.append("leaving out " + ", ".join(f"`{name}`" for name in sorted(self.dropped_fields)))
        if self.reasoning_inline:
            changes.append("sending replayed reasoning as <think> text instead of `reasoning_content`")
        if self.max_completion_tokens:
            changes.append("sending `max_tokens` as `max_completion_tokens`")
        if self.empty_string_content:
            changes.append('sending `content: null` of assistant messages as `""`')
        return changes

    def adapt(self, body: dict) -> dict:
        """``body`` in this dialect: a new dict (messages copied when changed); ``body`` itself is not changed."""
        if self == Dialect():
            return body
        adapted = {key: value for key, value in body.items() if key not in self.dropped_fields}
        if self.max_completion_tokens and "max_tokens" in adapted:
            max_tokens = adapted.pop("max_tokens")
            adapted.setdefault("max_completion_tokens", max_tokens)
        if self.developer_as_system or self.reasoning_inline or self.empty_string_content:
            adapted["messages"] = [self._adapt_message(message) for message in body["messages"]]
        return adapted

    def _adapt_message(self, message: dict) -> dict:
        changed = message
        if self.developer_as_system and message.get("role") == "developer":
            changed = {**changed, "role": "system"}
        if self.empty_string_content and message.get("role") == "assistant" and message.get("content") is None:
            changed = {**changed, "content": ""}
        if self.reasoning_inline and any(name in message for name in REASONING_FIELDS):
            changed = copy.deepcopy(changed)
            reasoning = next((changed[name] for name in REASONING_FIELDS if changed.get(name)), None)
            for name in REASONING_FIELDS:
                changed.pop(name, None)
            if reasoning:
                content = changed.get("content")
                if isinstance(content, list):
                    changed["content"] = [{"type": "text", "text": f"<think>{reasoning}</think>"}, *content]
                else:
                    changed["content"] = f"<think>{reasoning}</think>" + (content or "")
        return changed

    def fix_for(self, sent: dict, status: int, error_text: str) -> Dialect | None:
        """The dialect that avoids what the upstream refused in ``sent`` (already in this dialect), or None when
        the error names nothing this module knows how to change."""
        if status not in REFUSAL_STATUSES:
            return None
        changes: dict = {}
        messages = sent.get("messages") or []
        if not self.developer_as_system and _DEVELOPER.search(error_text):
            if any(message.get("role") == "developer" for message in messages):
                changes["developer_as_system"] = True
        present = VLLM_ONLY_FIELDS & sent.keys()
        # Only fields the error names: servers that refuse unknown fields say which (OpenAI; pydantic's `loc`).
        named = {name for name in present if re.search(rf"\b{name}\b", error_text)}
        if named:
            changes["dropped_fields"] = self.dropped_fields | named
        if not self.reasoning_inline and _REASONING_FIELD.search(error_text):
            if any(name in message for message in messages for name in REASONING_FIELDS):
                changes["reasoning_inline"] = True
        if not self.max_completion_tokens and "max_tokens" in sent and _MAX_COMPLETION_TOKENS.search(error_text):
            changes["max_completion_tokens"] = True
        if not self.empty_string_content and _NULL_CONTENT.search(error_text):
            if any(message.get("role") == "assistant" and message.get("content") is None for message in messages):
                changes["empty_string_content"] = True
        return dataclasses.replace(self, **changes) if changes else None


def is_request_refusal(status: int, error_text: str) -> bool:
    """Whether the upstream refused the request itself: a 4xx, or a 500 carrying a request-validation error."""
    return 400 <= status < 500 or (status == 500 and bool(_VALIDATION_ERROR.search(error_text)))


VLLM_DIALECT = Dialect()  # (immutable: one instance serves every upstream that needs no change)


class DialectBook:
    """The dialect learnt for each upstream base URL (per process; a vLLM upstream never gets an entry)."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self._dialects: dict[str, Dialect] = {}

    def get(self, base_url: str) -> Dialect:
        return self._dialects.get(base_url, VLLM_DIALECT)

    def remember(self, base_url: str, dialect: Dialect, status: int) -> None:
        """Keep ``dialect`` for ``base_url`` and log, once per change, what is now sent differently."""
        previous = self.get(base_url)
        dialect = previous.merged(dialect)
        if dialect == previous:
            return
        self._dialects[base_url] = dialect
        new = [change for change in dialect.describe() if change not in previous.describe()]
        logger.warning(
            "%s: upstream %s refused a vLLM-style request (HTTP %s); it worked after %s, so from now on its "
            "requests are sent that way",
            self.server_name,
            base_url,
            status,
            "; ".join(new),
        )
