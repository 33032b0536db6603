"""Chat Completions: the request (``NeMoGymChatCompletionCreateParamsNonStreaming``), its messages, and the reply.

Message params are TypedDicts, so validated messages are the plain dicts the caller sent (unknown keys of a message
are dropped, as in the reference); every ``content`` / ``tool_calls`` list is a ``list``. The reply types are the
openai SDK's models with the training variant of the assistant message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required, TypeAlias

from openai.types.chat import ChatCompletion, ChatCompletionMessage, ChatCompletionMessageToolCall
from openai.types.chat.chat_completion import Choice
from pydantic import BaseModel, ConfigDict, Discriminator, Tag
from typing_extensions import TypedDict

from nemo_gym.openai_types.parts import (
    NeMoGymChatCompletionAssistantContentPart,
    NeMoGymChatCompletionContentPartParam,
    NeMoGymChatCompletionContentPartTextParam,
)
from nemo_gym.openai_types.response_items import (
    TOKEN_ID_FIELDS,
    TokenIDLogProbMixin,
    TokenIDLogProbTypedDictMixin,
)

# ---------------------------------------------------------------------------------------------- reply


class NeMoGymFunction(BaseModel):
    """The function of a tool call in a reply: its name and its arguments as a JSON string."""

    arguments: str
    name: str


class NeMoGymChatCompletionMessageToolCall(ChatCompletionMessageToolCall):
    function: NeMoGymFunction


class NeMoGymChatCompletionMessage(ChatCompletionMessage):
    tool_calls: list[NeMoGymChatCompletionMessageToolCall] | None = None


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
    """OpenAI's ``ChatCompletion`` whose choices may carry the training token fields; vLLM's extra keys pass."""

    choices: list[NeMoGymChoice]


# ---------------------------------------------------------------------------------------------- request: tools


class NeMoGymFunctionDefinition(TypedDict, total=False):
    name: Required[str]
    description: str
    parameters: dict[str, object]
    strict: bool | None


class NeMoGymChatCompletionToolParam(TypedDict, total=False):
    """``{"type": "function", "function": {"name", "description", "parameters", "strict"}}``."""

    function: Required[NeMoGymFunctionDefinition]
    type: Required[Literal["function"]]


class NeMoGymChatCompletionMessageToolCallFunctionParam(TypedDict, total=False):
    arguments: Required[str]
    name: Required[str]


class NeMoGymChatCompletionMessageToolCallParam(TypedDict, total=False):
    """A tool call in an assistant message sent back as history."""

    id: Required[str]
    function: Required[NeMoGymChatCompletionMessageToolCallFunctionParam]
    type: Required[Literal["function"]]


# ---------------------------------------------------------------------------------------------- request: messages


class NeMoGymChatCompletionDeveloperMessageParam(TypedDict, total=False):
    content: Required[str | list[NeMoGymChatCompletionContentPartTextParam]]
    role: Required[Literal["developer"]]
    name: str


class NeMoGymChatCompletionSystemMessageParam(TypedDict, total=False):
    content: Required[str | list[NeMoGymChatCompletionContentPartTextParam]]
    role: Required[Literal["system"]]
    name: str


class NeMoGymChatCompletionUserMessageParam(TypedDict, total=False):
    content: Required[str | list[NeMoGymChatCompletionContentPartParam]]
    role: Required[Literal["user"]]
    name: str


class NeMoGymChatCompletionAssistantMessageParam(TypedDict, total=False):
    role: Required[Literal["assistant"]]
    audio: dict[str, Any] | None
    content: str | list[NeMoGymChatCompletionAssistantContentPart] | None
    function_call: NeMoGymChatCompletionMessageToolCallFunctionParam | None
    name: str
    refusal: str | None
    tool_calls: list[NeMoGymChatCompletionMessageToolCallParam] | None


class NeMoGymChatCompletionAssistantMessageForTrainingParam(
    NeMoGymChatCompletionAssistantMessageParam, TokenIDLogProbTypedDictMixin
):
    """An assistant message replayed in training mode, with the token ids of the call that produced it."""


class NeMoGymChatCompletionToolMessageParam(TypedDict, total=False):
    content: Required[str | list[NeMoGymChatCompletionContentPartTextParam]]
    role: Required[Literal["tool"]]
    tool_call_id: Required[str]


_CHAT_ROLES = frozenset(("developer", "system", "user", "assistant", "tool"))


def _chat_message_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    role = value.get("role")
    if role == "assistant" and any(value.get(field) is not None for field in TOKEN_ID_FIELDS):
        return "assistant_train"
    return role if role in _CHAT_ROLES else None


NeMoGymChatCompletionMessageParam: TypeAlias = Annotated[
    Annotated[NeMoGymChatCompletionDeveloperMessageParam, Tag("developer")]
    | Annotated[NeMoGymChatCompletionSystemMessageParam, Tag("system")]
    | Annotated[NeMoGymChatCompletionUserMessageParam, Tag("user")]
    | Annotated[NeMoGymChatCompletionAssistantMessageParam, Tag("assistant")]
    | Annotated[NeMoGymChatCompletionAssistantMessageForTrainingParam, Tag("assistant_train")]
    | Annotated[NeMoGymChatCompletionToolMessageParam, Tag("tool")],
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
    tools: list[NeMoGymChatCompletionToolParam] | None = None
    top_logprobs: int | None = None
    top_p: float | None = None
    user: str | None = None
    web_search_options: dict[str, Any] | None = None
    stream: Literal[False] | None = None
