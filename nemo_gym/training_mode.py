"""Training mode, in one place: which fields carry token ids, what a model server asks its upstream for, and how
the ids end up on the assistant message (and from there on the Responses output items a trainer reads).

A model server in training mode (``return_token_id_information: true``) asks the upstream for token ids and
logprobs (:func:`request_token_ids`), reads the generated ids and logprobs from the reply
(:func:`generation_token_fields`) and puts them with the prompt ids on the message (:func:`attach_token_ids`); the
Responses<->Chat translation carries ``TOKEN_ID_FIELDS`` across turns. Re-exported by :mod:`nemo_gym.openai_utils`.
"""

from typing import Any

TOKEN_ID_FIELDS = ("prompt_token_ids", "generation_token_ids", "generation_log_probs")

# What vLLM's OpenAI server needs to return the ids of a chat completion: logprobs with `token_id:N` tokens, and
# (vLLM >= 0.10.2) the prompt and generated ids themselves.
TRAINING_REQUEST_FLAGS = {
    "logprobs": True,
    "top_logprobs": 0,
    "return_tokens_as_token_ids": True,
    "return_token_ids": True,
}


def request_token_ids(params: dict[str, Any]) -> None:
    """Add the training flags to a Chat Completions body in place. Raises ValueError when ``n`` is not 1 (one
    choice per rollout: the ids of several choices would have no single prompt to belong to)."""
    if (params.get("n") or 1) != 1:
        raise ValueError("n must be 1 when return_token_id_information is on")
    params.update(TRAINING_REQUEST_FLAGS)


def generation_token_fields(choice: dict) -> tuple[list[int], list[float]]:
    """Generated token ids and their logprobs, from ``token_ids`` or from ``token_id:N`` logprob tokens.

    Raises RuntimeError when the reply has no logprobs or their count differs from the ids', ValueError when the
    logprob tokens are text rather than ``token_id:N``.
    """
    entries = (choice.get("logprobs") or {}).get("content")
    if not entries:
        raise RuntimeError(
            "The upstream returned no logprobs for a training request; it must honour `logprobs: true` and "
            "`return_tokens_as_token_ids: true` (vLLM's OpenAI server does)"
        )
    log_probs = [entry["logprob"] for entry in entries]
    token_ids = choice.get("token_ids")
    if token_ids is None:
        token_ids = [int(entry["token"].removeprefix("token_id:")) for entry in entries]
    if len(token_ids) != len(log_probs):
        raise RuntimeError(f"The upstream returned {len(token_ids)} token ids but {len(log_probs)} logprobs")
    return token_ids, log_probs


def attach_token_ids(
    choice: dict, prompt_ids: list[int] | None = None, generation: tuple[list[int], list[float]] | None = None
) -> None:
    """Put the ids on ``choice``'s message (``TOKEN_ID_FIELDS``) and drop the raw logprobs and ``token_ids``.

    With no ids given, the message already carries them (a training-side server attached the bundle): only the
    raw logprobs are dropped.
    """
    if prompt_ids is not None and generation is not None:
        message = choice["message"]
        message["prompt_token_ids"] = prompt_ids
        message["generation_token_ids"], message["generation_log_probs"] = generation
        choice.pop("token_ids", None)
    choice["logprobs"] = None


def has_token_ids(item: Any) -> bool:
    """True when a message or output item (a dict) carries any of ``TOKEN_ID_FIELDS``."""
    return isinstance(item, dict) and any(item.get(name) is not None for name in TOKEN_ID_FIELDS)
