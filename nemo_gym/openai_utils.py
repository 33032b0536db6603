"""Wire types of the OpenAI Responses and Chat Completions APIs as NeMo Gym accepts them, and the upstream client.

The Responses item models are our own (they pin the exact field set NeMo Gym has always exchanged, so rollouts do
not change shape when the ``openai`` package grows new optional fields); content parts, tools and the response and
chat-completion envelopes are taken from the installed ``openai`` package so they stay in step with it.

Items are selected by a discriminator function (``type`` / ``role`` / presence of token-id fields) instead of a
smart union: it is faster and it makes the ``...ForTraining`` choice deterministic.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, Required

from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionDeveloperMessageParam,
    ChatCompletionMessage,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.chat_completion import Choice
from openai.types.responses import (
    Response,
    ResponseInputContent,
    ResponseOutputRefusal,
    ResponseOutputText,
)
from openai.types.responses.response_create_params import ToolChoice
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_reasoning_item import Summary
from openai.types.responses.response_text_config_param import ResponseTextConfigParam
from openai.types.responses.tool_param import ToolParam
from openai.types.shared_params.reasoning import Reasoning
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from typing_extensions import TypedDict

# The client lives with the HTTP layer; it is part of this module's public face, as in the reference.
from nemo_gym.http.openai_client import NeMoGymAsyncOpenAI as NeMoGymAsyncOpenAI
from nemo_gym.http.openai_client import TokenizeResponse as TokenizeResponse
from nemo_gym.http.openai_client import UpstreamHTTPError as UpstreamHTTPError

logger = logging.getLogger(__name__)

TOKEN_ID_FIELDS = ("prompt_token_ids", "generation_token_ids", "generation_log_probs")


class _Item(BaseModel):
    # Unknown keys on items are dropped (e.g. an echoed reasoning `status` that OpenAI rejects when sent back).
    model_config = ConfigDict(extra="ignore")


class TokenIDLogProbMixin(BaseModel):
    """The token-level record of one model call, carried on the last output item of that call in training mode."""

    prompt_token_ids: list[int]
    generation_token_ids: list[int]
    generation_log_probs: list[float]


# ---------------------------------------------------------------------------------------------- Responses items


class NeMoGymEasyInputMessage(_Item):
    content: str | list[ResponseInputContent]
    role: Literal["user", "assistant", "system", "developer"]
    type: Literal["message"] = "message"


class NeMoGymMessage(_Item):
    content: list[ResponseInputContent]
    role: Literal["user", "system", "developer"]
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    type: Literal["message"] = "message"


class NeMoGymResponseOutputMessage(_Item):
    id: str
    content: list[Annotated[ResponseOutputText | ResponseOutputRefusal, Field(discriminator="type")]]
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    type: Literal["message"] = "message"


class NeMoGymResponseFunctionToolCall(_Item):
    arguments: str
    call_id: str
    name: str
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class NeMoGymFunctionCallOutput(_Item):
    call_id: str
    output: str
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class NeMoGymResponseReasoningItem(_Item):
    # No `status`: OpenAI rejects it when a reasoning item is sent back as input.
    id: str
    summary: list[Summary]
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


_ITEM_CLASSES: dict[str, type[BaseModel]] = {
    "easy_message": NeMoGymEasyInputMessage,
    "message": NeMoGymMessage,
    "output_message": NeMoGymResponseOutputMessage,
    "function_call": NeMoGymResponseFunctionToolCall,
    "function_call_output": NeMoGymFunctionCallOutput,
    "reasoning": NeMoGymResponseReasoningItem,
    "easy_message_train": NeMoGymEasyInputMessageForTraining,
    "message_train": NeMoGymMessageForTraining,
    "output_message_train": NeMoGymResponseOutputMessageForTraining,
    "function_call_train": NeMoGymResponseFunctionToolCallForTraining,
    "function_call_output_train": NeMoGymFunctionCallOutputForTraining,
    "reasoning_train": NeMoGymResponseReasoningItemForTraining,
}
_CLASS_TAGS = {cls: tag for tag, cls in _ITEM_CLASSES.items()}
RESPONSES_TO_TRAIN: dict[type[BaseModel], type[BaseModel]] = {
    _ITEM_CLASSES[tag]: _ITEM_CLASSES[tag + "_train"] for tag in list(_ITEM_CLASSES) if not tag.endswith("_train")
}
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
                "id" in value or any(isinstance(p, dict) and p.get("type") in _OUTPUT_PART_TYPES for p in content)
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
]
NeMoGymResponseOutputItem = NeMoGymResponseInputItem
NeMoGymResponseInput = list[NeMoGymResponseInputItem]


class NeMoGymFunctionToolParam(TypedDict, total=False):
    """A function tool; unlike the SDK's param type, ``parameters`` and ``strict`` may be omitted."""

    name: Required[str]
    type: Required[Literal["function"]]
    parameters: dict[str, object] | None
    strict: bool | None
    description: str | None


def _tool_tag(value: Any) -> str:
    return "function" if isinstance(value, dict) and value.get("type") == "function" else "other"


# Function tools (what environments use) get a small, precise schema and error; hosted tools use the SDK's union.
NeMoGymToolParam = Annotated[
    Annotated[NeMoGymFunctionToolParam, Tag("function")] | Annotated[ToolParam, Tag("other")],
    Discriminator(_tool_tag),
]


class NeMoGymResponseCreateParamsNonStreaming(BaseModel):
    """Body of ``POST /v1/responses``. Unknown top-level keys are rejected (422)."""

    model_config = ConfigDict(extra="forbid")

    background: bool | None = None
    include: list[str] | None = None
    input: str | NeMoGymResponseInput
    instructions: str | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    metadata: dict[str, str] | None = None
    model: str | None = None
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    prompt: ResponsePromptParam | None = None
    reasoning: Reasoning | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    store: bool | None = None
    temperature: float | None = None
    text: ResponseTextConfigParam | None = None
    tool_choice: ToolChoice = "auto"
    tools: list[NeMoGymToolParam] = Field(default_factory=list)
    top_logprobs: int | None = None
    top_p: float | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    stream: Literal[False] | None = None


class NeMoGymInputTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    cached_tokens: int | None = None


class NeMoGymOutputTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    reasoning_tokens: int | None = None


class NeMoGymResponseUsage(BaseModel):
    """Token usage. Lenient on the detail objects, which differ between providers and SDK versions."""

    model_config = ConfigDict(extra="allow")
    input_tokens: int
    input_tokens_details: NeMoGymInputTokensDetails | None = None
    output_tokens: int
    output_tokens_details: NeMoGymOutputTokensDetails | None = None
    total_tokens: int


class NeMoGymResponse(Response):
    """OpenAI's ``Response`` whose ``output`` holds NeMo Gym items (training variants included)."""

    output: list[NeMoGymResponseOutputItem]
    usage: NeMoGymResponseUsage | None = None

    @property
    def output_text(self) -> str:
        texts: list[str] = []
        for item in self.output:
            if getattr(item, "type", None) != "message" or getattr(item, "role", None) != "assistant":
                continue
            content = item.content
            if isinstance(content, str):
                texts.append(content)
                continue
            texts.extend(part.text for part in content if getattr(part, "type", None) == "output_text")
        return "".join(texts)


# ---------------------------------------------------------------------------------------------- Chat Completions


class NeMoGymChatCompletionAssistantMessageForTrainingParam(ChatCompletionAssistantMessageParam, total=False):
    prompt_token_ids: Required[list[int]]
    generation_token_ids: Required[list[int]]
    generation_log_probs: Required[list[float]]


_CHAT_ROLES = frozenset(("developer", "system", "user", "assistant", "tool"))


def _chat_message_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    role = value.get("role")
    if role == "assistant" and any(value.get(field) is not None for field in TOKEN_ID_FIELDS):
        return "assistant_train"
    return role if role in _CHAT_ROLES else None


NeMoGymChatCompletionMessageParam = Annotated[
    Annotated[ChatCompletionDeveloperMessageParam, Tag("developer")]
    | Annotated[ChatCompletionSystemMessageParam, Tag("system")]
    | Annotated[ChatCompletionUserMessageParam, Tag("user")]
    | Annotated[ChatCompletionAssistantMessageParam, Tag("assistant")]
    | Annotated[NeMoGymChatCompletionAssistantMessageForTrainingParam, Tag("assistant_train")]
    | Annotated[ChatCompletionToolMessageParam, Tag("tool")],
    Discriminator(
        _chat_message_tag,
        custom_error_type="invalid_message",
        custom_error_message="Unsupported message: role must be developer, system, user, assistant or tool",
    ),
]


class NeMoGymChatCompletionCreateParamsNonStreaming(BaseModel):
    """Body of ``POST /v1/chat/completions``. Unknown keys are ignored, as the reference does."""

    model_config = ConfigDict(extra="ignore")

    messages: list[NeMoGymChatCompletionMessageParam]
    model: str | None = None
    audio: dict[str, Any] | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, int] | None = None
    logprobs: bool | None = None
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    metadata: dict[str, str] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    n: int | None = None
    parallel_tool_calls: bool = True
    prediction: dict[str, Any] | None = None
    presence_penalty: float | None = None
    reasoning_effort: str | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    service_tier: str | None = None
    stop: str | list[str] | None = None
    store: bool | None = None
    stream_options: dict[str, Any] | None = None
    temperature: float | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: int | None = None
    top_p: float | None = None
    user: str | None = None
    web_search_options: dict[str, Any] | None = None
    stream: Literal[False] | None = None


class NeMoGymChatCompletionMessage(ChatCompletionMessage):
    pass


class NeMoGymChatCompletionMessageForTraining(NeMoGymChatCompletionMessage, TokenIDLogProbMixin):
    pass


def _completion_message_tag(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "train" if isinstance(value, TokenIDLogProbMixin) else "plain"
    has_tokens = isinstance(value, dict) and any(value.get(field) is not None for field in TOKEN_ID_FIELDS)
    return "train" if has_tokens else "plain"


class NeMoGymChoice(Choice):
    message: Annotated[
        Annotated[NeMoGymChatCompletionMessageForTraining, Tag("train")]
        | Annotated[NeMoGymChatCompletionMessage, Tag("plain")],
        Discriminator(_completion_message_tag),
    ]


class NeMoGymChatCompletion(ChatCompletion):
    choices: list[NeMoGymChoice]
