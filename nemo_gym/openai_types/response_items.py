"""Responses API items (the entries of ``input`` and of ``output``) and their ``...ForTraining`` variants.

Input and output share one item union, as in the reference: a rollout's output is replayed as the next call's input.
Items are models; their content parts stay plain dicts (see :mod:`.parts`), except the parts of an assistant output
message, which are :class:`NeMoGymResponseOutputText` / :class:`NeMoGymResponseOutputRefusal` models.

The union is selected by a discriminator function (``type`` / ``role`` / ``id`` / presence of token-id fields)
instead of a smart union: it is faster, its errors name the one kind that was meant, and it makes the
``...ForTraining`` choice deterministic. Unknown keys on items are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from openai.types.responses.response_reasoning_item import Summary
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag
from typing_extensions import TypedDict

from nemo_gym.openai_types.parts import (
    NeMoGymAnnotation,
    NeMoGymFunctionCallOutputContent,
    NeMoGymLogprob,
    NeMoGymResponseInputMessageContentList,
)
from nemo_gym.training_mode import TOKEN_ID_FIELDS

Status = Literal["in_progress", "completed", "incomplete"]


class _Item(BaseModel):
    # Unknown keys on items are dropped (e.g. an echoed reasoning `status` that OpenAI rejects when sent back).
    model_config = ConfigDict(extra="ignore")


class TokenIDLogProbMixin(BaseModel):
    """The token-level record of one model call, carried on the last output item of that call in training mode."""

    prompt_token_ids: list[int]
    generation_token_ids: list[int]
    generation_log_probs: list[float]


class TokenIDLogProbTypedDictMixin(TypedDict):
    """The same three token fields, for TypedDict (plain-dict) message params."""

    prompt_token_ids: list[int]
    generation_token_ids: list[int]
    generation_log_probs: list[float]


# ---------------------------------------------------------------------------------------------- parts (models)


class NeMoGymSummary(Summary):
    """One reasoning summary: ``{"text": ..., "type": "summary_text"}``."""


class NeMoGymResponseOutputText(_Item):
    """Text produced by the model, a part of an assistant output message."""

    annotations: list[NeMoGymAnnotation]
    text: str
    type: Literal["output_text"] = "output_text"
    logprobs: list[NeMoGymLogprob] | None = None


class NeMoGymResponseOutputRefusal(_Item):
    """A refusal by the model, a part of an assistant output message."""

    refusal: str
    type: Literal["refusal"] = "refusal"


NeMoGymContent: TypeAlias = NeMoGymResponseOutputText | NeMoGymResponseOutputRefusal
"""A part of an assistant output message's ``content``."""


# ---------------------------------------------------------------------------------------------- items


class NeMoGymEasyInputMessage(_Item):
    """A message in the short form: ``content`` is a string or a list of input parts (plain dicts)."""

    content: str | NeMoGymResponseInputMessageContentList
    role: Literal["user", "assistant", "system", "developer"]
    type: Literal["message"] = "message"


class NeMoGymMessage(_Item):
    """A user/system/developer message with a list of input parts (plain dicts) and a ``status``."""

    content: NeMoGymResponseInputMessageContentList
    role: Literal["user", "system", "developer"]
    status: Status = "completed"
    type: Literal["message"] = "message"


class NeMoGymResponseOutputMessage(_Item):
    """An assistant message produced by the model."""

    id: str
    content: list[Annotated[NeMoGymContent, Field(discriminator="type")]]
    role: Literal["assistant"] = "assistant"
    status: Status = "completed"
    type: Literal["message"] = "message"


class NeMoGymResponseFunctionToolCall(_Item):
    """A call of a function tool by the model; ``arguments`` is a JSON string."""

    arguments: str
    call_id: str
    name: str
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    status: Status | None = None


class NeMoGymFunctionCallOutput(_Item):
    """The result of a function call: a string, or a list of input parts (plain dicts)."""

    call_id: str
    output: str | list[NeMoGymFunctionCallOutputContent]
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    status: Status | None = None


class NeMoGymResponseReasoningItem(_Item):
    """Reasoning of the model, as summaries. No ``status``: OpenAI rejects it when the item is sent back."""

    id: str
    summary: list[NeMoGymSummary]
    type: Literal["reasoning"] = "reasoning"
    encrypted_content: str | None = None


class NeMoGymEasyInputMessageForTraining(NeMoGymEasyInputMessage, TokenIDLogProbMixin):
    pass


class NeMoGymMessageForTraining(NeMoGymMessage, TokenIDLogProbMixin):
    pass


class NeMoGymResponseOutputMessageForTraining(NeMoGymResponseOutputMessage, TokenIDLogProbMixin):
    pass


class NeMoGymResponseFunctionToolCallForTraining(NeMoGymResponseFunctionToolCall, TokenIDLogProbMixin):
    pass


class NeMoGymFunctionCallOutputForTraining(NeMoGymFunctionCallOutput, TokenIDLogProbMixin):
    pass


class NeMoGymResponseReasoningItemForTraining(NeMoGymResponseReasoningItem, TokenIDLogProbMixin):
    pass


RESPONSES_TO_TRAIN: dict[type[BaseModel], type[BaseModel]] = {
    NeMoGymEasyInputMessage: NeMoGymEasyInputMessageForTraining,
    NeMoGymMessage: NeMoGymMessageForTraining,
    NeMoGymResponseOutputMessage: NeMoGymResponseOutputMessageForTraining,
    NeMoGymResponseFunctionToolCall: NeMoGymResponseFunctionToolCallForTraining,
    NeMoGymResponseReasoningItem: NeMoGymResponseReasoningItemForTraining,
}
"""Each item class that a model call can end with, mapped to its variant carrying the token ids."""

_ITEM_CLASSES: dict[str, type[BaseModel]] = {
    "easy_message": NeMoGymEasyInputMessage,
    "message": NeMoGymMessage,
    "output_message": NeMoGymResponseOutputMessage,
    "function_call": NeMoGymResponseFunctionToolCall,
    "function_call_output": NeMoGymFunctionCallOutput,
    "reasoning": NeMoGymResponseReasoningItem,
}
_ITEM_CLASSES.update({tag + "_train": RESPONSES_TO_TRAIN.get(cls) for tag, cls in list(_ITEM_CLASSES.items())})
_ITEM_CLASSES["function_call_output_train"] = NeMoGymFunctionCallOutputForTraining
_CLASS_TAGS = {cls: tag for tag, cls in _ITEM_CLASSES.items()}
_OUTPUT_PART_TYPES = frozenset(("output_text", "refusal"))


def _item_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        for cls in type(value).__mro__:
            if cls in _CLASS_TAGS:
                return _CLASS_TAGS[cls]
        return None
    if not isinstance(value, dict):
        return None
    item_type = value.get("type") or "message"
    if item_type == "message":
        content = value.get("content")
        if value.get("role") == "assistant":
            is_output = isinstance(content, list) and (
                "id" in value or any(_part_type(part) in _OUTPUT_PART_TYPES for part in content)
            )
            tag = "output_message" if is_output else "easy_message"
        else:
            tag = "message" if "status" in value and isinstance(content, list) else "easy_message"
    elif item_type in ("function_call", "function_call_output", "reasoning"):
        tag = item_type
    else:
        return None
    if any(value.get(field) is not None for field in TOKEN_ID_FIELDS):
        tag += "_train"
    return tag


def _part_type(part: Any) -> Any:
    return part.get("type") if isinstance(part, dict) else getattr(part, "type", None)


def _foreign_model_as_dict(value: Any) -> Any:
    # An item built with another library's classes (e.g. the openai SDK's ResponseOutputMessage) is read by value.
    if isinstance(value, BaseModel) and _item_tag(value) is None:
        return value.model_dump(exclude_unset=False)
    return value


NeMoGymResponseInputItem = Annotated[
    Annotated[NeMoGymEasyInputMessage, Tag("easy_message")]
    | Annotated[NeMoGymMessage, Tag("message")]
    | Annotated[NeMoGymResponseOutputMessage, Tag("output_message")]
    | Annotated[NeMoGymResponseFunctionToolCall, Tag("function_call")]
    | Annotated[NeMoGymFunctionCallOutput, Tag("function_call_output")]
    | Annotated[NeMoGymResponseReasoningItem, Tag("reasoning")]
    | Annotated[NeMoGymEasyInputMessageForTraining, Tag("easy_message_train")]
    | Annotated[NeMoGymMessageForTraining, Tag("message_train")]
    | Annotated[NeMoGymResponseOutputMessageForTraining, Tag("output_message_train")]
    | Annotated[NeMoGymResponseFunctionToolCallForTraining, Tag("function_call_train")]
    | Annotated[NeMoGymFunctionCallOutputForTraining, Tag("function_call_output_train")]
    | Annotated[NeMoGymResponseReasoningItemForTraining, Tag("reasoning_train")],
    Discriminator(
        _item_tag,
        custom_error_type="invalid_item",
        custom_error_message="Unsupported item: expected a message, function_call, function_call_output or "
        "reasoning item",
    ),
    BeforeValidator(_foreign_model_as_dict),
]
"""One Responses item, input or output (training variants included)."""

NeMoGymResponseOutputItem = NeMoGymResponseInputItem
NeMoGymResponseInput = list[NeMoGymResponseInputItem]
