"""The Responses API request (``NeMoGymResponseCreateParamsNonStreaming``) and reply (``NeMoGymResponse``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required

from openai.types.responses import Response
from openai.types.responses.response_create_params import ToolChoice
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_text_config_param import ResponseTextConfigParam
from openai.types.responses.tool_param import ToolParam
from openai.types.shared_params.reasoning import Reasoning
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from typing_extensions import TypedDict

from nemo_gym.openai_types.parts import materialized
from nemo_gym.openai_types.response_items import NeMoGymResponseInput, NeMoGymResponseOutputItem


class NeMoGymFunctionToolParam(TypedDict, total=False):
    """A function tool; unlike the SDK's param type, ``parameters`` and ``strict`` may be omitted."""

    name: Required[str]
    type: Required[Literal["function"]]
    parameters: dict[str, object] | None
    strict: bool | None
    description: str | None


def _tool_tag(value: Any) -> str:
    return "function" if isinstance(value, dict) and value.get("type") == "function" else "other"


# Function tools (what environments use) get a small, precise schema and error; hosted tools use the SDK's union,
# read into lists (some of its fields are lazy Iterables).
NeMoGymToolParam = Annotated[
    Annotated[NeMoGymFunctionToolParam, Tag("function")] | Annotated[materialized(ToolParam), Tag("other")],
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
    prompt: materialized(ResponsePromptParam) | None = None
    reasoning: Reasoning | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    store: bool | None = None
    temperature: float | None = None
    text: materialized(ResponseTextConfigParam) | None = None
    tool_choice: materialized(ToolChoice) = "auto"
    tools: list[NeMoGymToolParam] = Field(default_factory=list)
    top_logprobs: int | None = None
    top_p: float | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    stream: Literal[False] | None = None


class NeMoGymResponseInputTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    cached_tokens: int | None = None


class NeMoGymResponseOutputTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    reasoning_tokens: int | None = None


class NeMoGymResponseUsage(BaseModel):
    """Token usage. Lenient on the detail objects, which differ between providers and SDK versions."""

    model_config = ConfigDict(extra="allow")
    input_tokens: int
    input_tokens_details: NeMoGymResponseInputTokensDetails | None = None
    output_tokens: int
    output_tokens_details: NeMoGymResponseOutputTokensDetails | None = None
    total_tokens: int


class NeMoGymResponse(Response):
    """OpenAI's ``Response`` whose ``output`` holds NeMo Gym items (training variants included)."""

    output: list[NeMoGymResponseOutputItem]
    usage: NeMoGymResponseUsage | None = None

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of the assistant messages, concatenated."""
        texts: list[str] = []
        for item in self.output:
            if getattr(item, "type", None) != "message" or getattr(item, "role", None) != "assistant":
                continue
            content = item.content
            if isinstance(content, str):
                texts.append(content)
                continue
            for part in content:
                if isinstance(part, dict):
                    if part.get("type") == "output_text":
                        texts.append(part.get("text") or "")
                elif getattr(part, "type", None) == "output_text":
                    texts.append(part.text)
        return "".join(texts)
