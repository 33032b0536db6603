"""Public face of the OpenAI wire types and the upstream client (the reference's ``nemo_gym.openai_utils``).

The types live in :mod:`nemo_gym.openai_types` (content parts, Responses items, the Responses request and reply,
Chat Completions); the client lives with the HTTP layer (:mod:`nemo_gym.http.openai_client`). Every list-valued
field is a ``list`` and content parts are plain dicts where the reference keeps dicts.
"""

from nemo_gym.http.openai_client import NeMoGymAsyncOpenAI, TokenizeResponse, UpstreamHTTPError
from nemo_gym.openai_types.chat import (
    NeMoGymChatCompletion,
    NeMoGymChatCompletionAssistantMessageForTrainingParam,
    NeMoGymChatCompletionAssistantMessageParam,
    NeMoGymChatCompletionCreateParamsNonStreaming,
    NeMoGymChatCompletionDeveloperMessageParam,
    NeMoGymChatCompletionMessage,
    NeMoGymChatCompletionMessageForTraining,
    NeMoGymChatCompletionMessageParam,
    NeMoGymChatCompletionMessageToolCall,
    NeMoGymChatCompletionMessageToolCallFunctionParam,
    NeMoGymChatCompletionMessageToolCallParam,
    NeMoGymChatCompletionSystemMessageParam,
    NeMoGymChatCompletionToolMessageParam,
    NeMoGymChatCompletionToolParam,
    NeMoGymChatCompletionUserMessageParam,
    NeMoGymChoice,
    NeMoGymFunction,
    NeMoGymFunctionDefinition,
)
from nemo_gym.openai_types.parts import (
    NeMoGymChatCompletionContentPartParam,
    NeMoGymChatCompletionContentPartTextParam,
    NeMoGymResponseInputText,
)
from nemo_gym.openai_types.response_items import (
    RESPONSES_TO_TRAIN,
    TOKEN_ID_FIELDS,
    NeMoGymContent,
    NeMoGymEasyInputMessage,
    NeMoGymEasyInputMessageForTraining,
    NeMoGymFunctionCallOutput,
    NeMoGymFunctionCallOutputForTraining,
    NeMoGymMessage,
    NeMoGymMessageForTraining,
    NeMoGymResponseFunctionToolCall,
    NeMoGymResponseFunctionToolCallForTraining,
    NeMoGymResponseInput,
    NeMoGymResponseInputItem,
    NeMoGymResponseOutputItem,
    NeMoGymResponseOutputMessage,
    NeMoGymResponseOutputMessageForTraining,
    NeMoGymResponseOutputRefusal,
    NeMoGymResponseOutputText,
    NeMoGymResponseReasoningItem,
    NeMoGymResponseReasoningItemForTraining,
    NeMoGymSummary,
    TokenIDLogProbMixin,
    TokenIDLogProbTypedDictMixin,
)
from nemo_gym.openai_types.responses import (
    NeMoGymFunctionToolParam,
    NeMoGymResponse,
    NeMoGymResponseCreateParamsNonStreaming,
    NeMoGymResponseUsage,
    NeMoGymToolParam,
)

# HTTP statuses of an OpenAI-compatible upstream that are retried; the first five are rate limits or overload.
RATE_LIMIT_ERROR_CODES = [429, 502, 503, 504, 520]
RETRY_ERROR_CODES = RATE_LIMIT_ERROR_CODES + [500]

__all__ = [
    "RATE_LIMIT_ERROR_CODES",
    "RESPONSES_TO_TRAIN",
    "RETRY_ERROR_CODES",
    "TOKEN_ID_FIELDS",
    "NeMoGymAsyncOpenAI",
    "NeMoGymChatCompletion",
    "NeMoGymChatCompletionAssistantMessageForTrainingParam",
    "NeMoGymChatCompletionAssistantMessageParam",
    "NeMoGymChatCompletionContentPartParam",
    "NeMoGymChatCompletionContentPartTextParam",
    "NeMoGymChatCompletionCreateParamsNonStreaming",
    "NeMoGymChatCompletionDeveloperMessageParam",
    "NeMoGymChatCompletionMessage",
    "NeMoGymChatCompletionMessageForTraining",
    "NeMoGymChatCompletionMessageParam",
    "NeMoGymChatCompletionMessageToolCall",
    "NeMoGymChatCompletionMessageToolCallFunctionParam",
    "NeMoGymChatCompletionMessageToolCallParam",
    "NeMoGymChatCompletionSystemMessageParam",
    "NeMoGymChatCompletionToolMessageParam",
    "NeMoGymChatCompletionToolParam",
    "NeMoGymChatCompletionUserMessageParam",
    "NeMoGymChoice",
    "NeMoGymContent",
    "NeMoGymEasyInputMessage",
    "NeMoGymEasyInputMessageForTraining",
    "NeMoGymFunction",
    "NeMoGymFunctionCallOutput",
    "NeMoGymFunctionCallOutputForTraining",
    "NeMoGymFunctionDefinition",
    "NeMoGymFunctionToolParam",
    "NeMoGymMessage",
    "NeMoGymMessageForTraining",
    "NeMoGymResponse",
    "NeMoGymResponseCreateParamsNonStreaming",
    "NeMoGymResponseFunctionToolCall",
    "NeMoGymResponseFunctionToolCallForTraining",
    "NeMoGymResponseInput",
    "NeMoGymResponseInputItem",
    "NeMoGymResponseInputText",
    "NeMoGymResponseOutputItem",
    "NeMoGymResponseOutputMessage",
    "NeMoGymResponseOutputMessageForTraining",
    "NeMoGymResponseOutputRefusal",
    "NeMoGymResponseOutputText",
    "NeMoGymResponseReasoningItem",
    "NeMoGymResponseReasoningItemForTraining",
    "NeMoGymResponseUsage",
    "NeMoGymSummary",
    "NeMoGymToolParam",
    "TokenIDLogProbMixin",
    "TokenIDLogProbTypedDictMixin",
    "TokenizeResponse",
    "UpstreamHTTPError",
]

# Reading text out of a Response (dicts or models), for environments and judges.
from nemo_gym.openai_types.text import (  # noqa: E402
    all_assistant_text,
    final_item_text,
    final_output_text,
    item_field,
    last_assistant_text,
)

__all__ += ["all_assistant_text", "final_item_text", "final_output_text", "item_field", "last_assistant_text"]

# Training mode: requesting, reading and attaching token ids (TOKEN_ID_FIELDS above is the same tuple).
from nemo_gym.training_mode import (  # noqa: E402
    attach_token_ids,
    generation_token_fields,
    has_token_ids,
    request_token_ids,
)

__all__ += ["attach_token_ids", "generation_token_fields", "has_token_ids", "request_token_ids"]
