"""Content parts of messages, tool outputs and output text, as plain dicts.

These are TypedDicts, so a validated part stays the dict the caller sent (as in the reference); unknown keys of a
part are kept, so a field newer than this module still reaches the upstream. The ``type`` key selects the kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, Required

from pydantic import AfterValidator, ConfigDict, Field, PlainSerializer
from typing_extensions import TypedDict

_KEEP_UNKNOWN_KEYS = ConfigDict(extra="allow")


def materialize_iterables(value: Any) -> Any:
    """``value`` with every lazy iterator (how pydantic validates an SDK ``Iterable`` field) read into a list.

    Used as an ``AfterValidator`` on SDK types that still declare ``Iterable`` fields: reading the iterator inside
    validation turns a bad nested item into a 422 instead of a failure when the model is dumped.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = materialize_iterables(item)
        return value
    if isinstance(value, list) or isinstance(value, Iterator):
        return [materialize_iterables(item) for item in value]
    return value


def materialized(annotation: Any) -> Any:
    """``annotation`` whose validated value holds lists where the SDK type declares lazy ``Iterable``s; it is dumped
    by value (the SDK schema's serializer would expect the iterators)."""
    return Annotated[annotation, AfterValidator(materialize_iterables), PlainSerializer(_as_is, return_type=Any)]


def _as_is(value: Any) -> Any:
    return value


# ---------------------------------------------------------------------------------------------- Responses input


class NeMoGymResponseInputText(TypedDict, total=False):
    """``{"type": "input_text", "text": ...}``: text in an input message or a tool output."""

    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    text: Required[str]
    type: Required[Literal["input_text"]]


class NeMoGymResponseInputImage(TypedDict, total=False):
    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    type: Required[Literal["input_image"]]
    detail: Literal["low", "high", "auto", "original"]
    file_id: str | None
    image_url: str | None


class NeMoGymResponseInputFile(TypedDict, total=False):
    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    type: Required[Literal["input_file"]]
    file_data: str
    file_id: str | None
    file_url: str
    filename: str


class NeMoGymResponseInputAudio(TypedDict, total=False):
    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    type: Required[Literal["input_audio"]]
    input_audio: Required[dict[str, Any]]


NeMoGymResponseInputContent = Annotated[
    NeMoGymResponseInputText | NeMoGymResponseInputImage | NeMoGymResponseInputFile | NeMoGymResponseInputAudio,
    Field(discriminator="type"),
]
"""One part of an input message's ``content`` list."""

NeMoGymResponseInputMessageContentList = list[NeMoGymResponseInputContent]

NeMoGymFunctionCallOutputContent = Annotated[
    NeMoGymResponseInputText | NeMoGymResponseInputImage | NeMoGymResponseInputFile,
    Field(discriminator="type"),
]
"""One part of a ``function_call_output``'s ``output`` list."""


# ---------------------------------------------------------------------------------------------- Responses output


class NeMoGymLogprobTopLogprob(TypedDict, total=False):
    token: Required[str]
    bytes: Required[list[int]]
    logprob: Required[float]


class NeMoGymLogprob(TypedDict, total=False):
    """The log probability of one output token, with its most likely alternatives."""

    token: Required[str]
    bytes: Required[list[int]]
    logprob: Required[float]
    top_logprobs: Required[list[NeMoGymLogprobTopLogprob]]


class NeMoGymAnnotation(TypedDict, total=False):
    """A citation or file path in output text (``file_citation``, ``url_citation``, ``container_file_citation``,
    ``file_path``); the remaining keys depend on the type and are kept as sent."""

    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    type: Required[str]


# ---------------------------------------------------------------------------------------------- Chat Completions


class NeMoGymChatCompletionContentPartTextParam(TypedDict, total=False):
    """``{"type": "text", "text": ...}``."""

    text: Required[str]
    type: Required[Literal["text"]]


class NeMoGymChatCompletionContentPartRefusalParam(TypedDict, total=False):
    refusal: Required[str]
    type: Required[Literal["refusal"]]


class NeMoGymChatCompletionContentPartImageParam(TypedDict, total=False):
    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    image_url: Required[dict[str, Any]]
    type: Required[Literal["image_url"]]


class NeMoGymChatCompletionContentPartInputAudioParam(TypedDict, total=False):
    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    input_audio: Required[dict[str, Any]]
    type: Required[Literal["input_audio"]]


class NeMoGymChatCompletionContentPartFileParam(TypedDict, total=False):
    __pydantic_config__ = _KEEP_UNKNOWN_KEYS  # type: ignore[misc]
    file: Required[dict[str, Any]]
    type: Required[Literal["file"]]


NeMoGymChatCompletionContentPartParam = Annotated[
    NeMoGymChatCompletionContentPartTextParam
    | NeMoGymChatCompletionContentPartImageParam
    | NeMoGymChatCompletionContentPartInputAudioParam
    | NeMoGymChatCompletionContentPartFileParam,
    Field(discriminator="type"),
]
"""One part of a user message's ``content`` list."""

NeMoGymChatCompletionAssistantContentPart = Annotated[
    NeMoGymChatCompletionContentPartTextParam | NeMoGymChatCompletionContentPartRefusalParam,
    Field(discriminator="type"),
]
"""One part of an assistant message's ``content`` list."""
