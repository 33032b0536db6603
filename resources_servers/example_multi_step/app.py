"""example_multi_step: look up the value of each synonym of a term, then submit all values in list order.

The system prompt lists ~200 "term has synonym" lines; the user's question is about one term. The model must call
``get_synonym_value`` for each of that term's synonyms and then ``extract_synonym_values`` with the values in the
order the synonyms appear in the list. The reward is 1.0 for the exact ordered list, else 0.0.
"""

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)

SUBMIT_TOOL = "extract_synonym_values"


class ExampleMultiStepResourcesServerConfig(BaseResourcesServerConfig):
    pass


class GetSynonymValueRequest(BaseModel):
    synonym: str


class GetSynonymValueResponse(BaseModel):
    synonym_value: int


class ExtractSynonymValuesRequest(BaseModel):
    synonym_values: list[int]


class ExtractSynonymValuesResponse(BaseModel):
    success: bool


class ExampleMultiStepRunRequest(BaseModel):
    id: int | None = None
    expected_synonym_values: list[int]
    expected_synonyms: list[str] = []
    minefield_label: str | None = None
    minefield_label_value: int | None = None


class ExampleMultiStepVerifyRequest(ExampleMultiStepRunRequest, BaseVerifyRequest):
    pass


class ExampleMultiStepVerifyResponse(BaseVerifyResponse):
    parsed_synonym_values: list[Any]
    accuracy: bool
    set_overlap: float
    original_term_minefield_hit: bool
    order_instruction_following_failure: bool


def synonym_value(synonym: str) -> int:
    """The value of a synonym: the sum of its Unicode code points ("Warm" -> 407)."""
    return sum(ord(character) for character in synonym)


def last_submitted_values(output: list[Any]) -> list[Any]:
    """``synonym_values`` of the last ``extract_synonym_values`` call; [] if there is none or it is malformed."""
    for item in reversed(output):
        if getattr(item, "type", None) != "function_call" or item.name != SUBMIT_TOOL:
            continue
        try:
            arguments = json.loads(item.arguments)
        except json.JSONDecodeError:
            return []
        values = arguments.get("synonym_values") if isinstance(arguments, dict) else None
        return values if isinstance(values, list) else []
    return []


def grade(
    actual: list[Any], expected: list[int], minefield_label: str | None, minefield_label_value: int | None
) -> dict[str, Any]:
    """Reward and diagnostics for a submitted list against the expected one (order matters)."""
    accuracy = actual == expected
    actual_keys = {json.dumps(value, sort_keys=True) for value in actual}
    expected_keys = {json.dumps(value, sort_keys=True) for value in expected}
    if expected_keys:
        set_overlap = len(actual_keys & expected_keys) / len(expected_keys)
    else:  # nothing to find: full overlap only if nothing was submitted either
        set_overlap = 1.0 if not actual_keys else 0.0
    minefield = [value for value in (minefield_label, minefield_label_value) if value is not None]
    return {
        "reward": float(accuracy),
        "parsed_synonym_values": actual,
        "accuracy": accuracy,
        "set_overlap": set_overlap,
        "original_term_minefield_hit": any(value in actual for value in minefield),
        "order_instruction_following_failure": not accuracy and set_overlap == 1.0,
    }


class ExampleMultiStepResourcesServer(SimpleResourcesServer):
    config: ExampleMultiStepResourcesServerConfig

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        app.post("/get_synonym_value")(self.get_synonym_value)
        app.post(f"/{SUBMIT_TOOL}")(self.extract_synonym_values)
        return app

    async def get_synonym_value(self, body: GetSynonymValueRequest) -> GetSynonymValueResponse:
        return GetSynonymValueResponse(synonym_value=synonym_value(body.synonym))

    async def extract_synonym_values(self, body: ExtractSynonymValuesRequest) -> ExtractSynonymValuesResponse:
        # The submission is read from the transcript by /verify; the call itself only acknowledges it.
        return ExtractSynonymValuesResponse(success=True)

    async def verify(self, body: ExampleMultiStepVerifyRequest) -> ExampleMultiStepVerifyResponse:
        actual = last_submitted_values(body.response.output)
        result = grade(actual, body.expected_synonym_values, body.minefield_label, body.minefield_label_value)
        return ExampleMultiStepVerifyResponse.from_request(body, **result)


if __name__ == "__main__":
    ExampleMultiStepResourcesServer.run_webserver()
