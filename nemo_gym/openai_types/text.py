"""Reading text out of a Response, whether it is a dict (as a verify body or a judge's JSON arrives) or a model.

Re-exported by :mod:`nemo_gym.openai_utils`; environments use these instead of walking ``output`` themselves:

- :func:`all_assistant_text`: every text part of every assistant message, joined;
- :func:`last_assistant_text`: the text parts of the last assistant message;
- :func:`final_item_text`: the first content part of the last output item (the reference's instruction-following
  rule: a rollout that ends on a reasoning item or a function call has no answer);
- :func:`final_output_text`: the last part of the last output item when it is a message's ``output_text`` (how
  judges read a verdict); None otherwise.
"""

from collections.abc import Mapping
from typing import Any

OUTPUT_TEXT_TYPES = ("output_text",)


def item_field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` for a model; None when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _assistant_messages(response: Any) -> list[Any]:
    return [
        item
        for item in item_field(response, "output") or []
        if item_field(item, "type") == "message" and item_field(item, "role") == "assistant"
    ]


def _message_texts(message: Any, part_types: tuple[str, ...]) -> list[str]:
    content = item_field(message, "content")
    if isinstance(content, str):
        return [content]
    texts = [item_field(part, "text") for part in content or [] if item_field(part, "type") in part_types]
    return [text for text in texts if isinstance(text, str)]


def all_assistant_text(response: Any, part_types: tuple[str, ...] = OUTPUT_TEXT_TYPES) -> str:
    """Every text part (of ``part_types``) of every assistant message of the output, joined with newlines, stripped."""
    return "\n".join(
        text for message in _assistant_messages(response) for text in _message_texts(message, part_types)
    ).strip()


def last_assistant_text(response: Any, part_types: tuple[str, ...] = OUTPUT_TEXT_TYPES) -> str:
    """The text parts of the last assistant message of the output, joined with newlines and stripped ("" if none)."""
    messages = _assistant_messages(response)
    return "\n".join(_message_texts(messages[-1], part_types)).strip() if messages else ""


def final_item_text(response: Any) -> str:
    """The text of the first content part of the last output item, or "" when that item has no text content."""
    output = item_field(response, "output") or []
    if not output:
        return ""
    content = item_field(output[-1], "content")
    if isinstance(content, str):
        return content
    if not content:
        return ""
    text = item_field(content[0], "text")
    return text if isinstance(text, str) else ""


def final_output_text(response: Any) -> str | None:
    """The last output item's last part when the item is a message and the part is ``output_text``; else None."""
    output = item_field(response, "output")
    if not output:
        return None
    last_item = output[-1]
    if item_field(last_item, "type") != "message":
        return None
    content = item_field(last_item, "content")
    if not isinstance(content, list) or not content:
        return None
    last_part = content[-1]
    text = item_field(last_part, "text")
    if item_field(last_part, "type") != "output_text" or not isinstance(text, str):
        return None
    return text
