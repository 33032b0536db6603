"""The equivalence_llm_judge server over real HTTP, with a scripted judge model server behind it."""

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nemo_gym.testing.responses import make_response, user_message, verify_request
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.equivalence_llm_judge.app import (
    LLMJudgeResourcesServer,
    LLMJudgeResourcesServerConfig,
    LLMJudgeRunRequest,
)

SERVER_DIR = Path(__file__).resolve().parents[1]
PARENS = r"\(\((.*?)\)\)"
TEMPLATE = "Q<{question}> A<{expected_answer}> B<{generated_answer}>"


class ScriptedJudge:
    """A Responses-API model that answers judge prompts from a script and records what it was asked.

    Each reply is the next scripted text; with no script left it says ``[[A=B]]`` iff A and B are equal
    ignoring case. ``fail_with`` makes it answer with that HTTP status instead.
    """

    def __init__(self) -> None:
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.fail_with: int | None = None

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()
        self.fail_with = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/responses")
        async def responses(request: Request):
            body = await request.json()
            self.requests.append(body)
            if self.fail_with is not None:
                return JSONResponse(status_code=self.fail_with, content={"error": "scripted failure"})
            return make_response(self.script.pop(0) if self.script else self._compare(body), model="judge")

        return app

    def pairs(self) -> list[tuple[str, str]]:
        """The (A, B) pair of every judge request, parsed back out of the prompt."""
        found = []
        for body in self.requests:
            match = re.search(r"A<(.*)> B<(.*)>$", body["input"][-1]["content"], flags=re.DOTALL)
            found.append((match.group(1), match.group(2)))
        return found

    def _compare(self, body: dict) -> str:
        match = re.search(r"A<(.*)> B<(.*)>$", body["input"][-1]["content"], flags=re.DOTALL)
        same = match and match.group(1).strip().lower() == match.group(2).strip().lower()
        return "Same meaning. [[A=B]]" if same else "Different. [[A!=B]]"


@pytest.fixture(scope="module")
def judge():
    scripted = ScriptedJudge()
    with serve_app(scripted.app()) as url:
        scripted.url = url
        yield scripted


def _serve_judge_server(judge_url: str, **overrides):
    fields = {
        "host": "127.0.0.1",
        "port": 0,
        "entrypoint": "app.py",
        "name": "equivalence_llm_judge",
        "domain": "knowledge",
        "judge_model_server": {"type": "responses_api_models", "name": "judge_model"},
        "judge_responses_create_params": {"input": [], "temperature": 0.0},
        "judge_system_message": "You compare answers.",
        "judge_prompt_template": TEMPLATE,
        "check_twice_swap": True,
    }
    fields.update(overrides)
    server = LLMJudgeResourcesServer(
        config=LLMJudgeResourcesServerConfig.model_validate(fields),
        server_client=make_server_client({"judge_model": judge_url}),
    )
    return serve_app(server.setup_webserver())


@pytest.fixture(scope="module")
def base_url(judge):
    with _serve_judge_server(judge.url) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_judge(judge):
    judge.reset()


def _body(answer: str, expected="darwin", **fields) -> dict:
    body = verify_request(
        answer,
        input=[{"role": "system", "content": "Be brief."}, user_message("  Who proposed natural selection?  ")],
        uuid="row-1",
        expected_answer=expected,
    )
    body.update(fields)
    return body


def test_equal_in_both_orders_gives_one(base_url, judge):
    result = httpx.post(f"{base_url}/verify", json=_body("Darwin")).json()
    assert result["reward"] == 1.0
    assert result["expected_answer"] == "darwin"
    assert judge.pairs() == [("darwin", "Darwin"), ("Darwin", "darwin")]
    assert [e["verdict_label"] for e in result["judge_evaluations"]] == ["[[A=B]]", "[[A=B]]"]
    assert "uuid" not in result


def test_judge_request_carries_configured_params_system_message_and_question(base_url, judge):
    httpx.post(f"{base_url}/verify", json=_body("Darwin"))
    sent = judge.requests[0]
    assert sent["temperature"] == 0.0
    assert sent["input"][0] == {"role": "system", "content": "You compare answers."}
    assert sent["input"][1]["content"] == "Q<Who proposed natural selection?> A<darwin> B<Darwin>"


def test_evaluation_records_judge_request_and_response(base_url):
    evaluation = httpx.post(f"{base_url}/verify", json=_body("Darwin")).json()["judge_evaluations"][0]
    assert evaluation["responses_create_params"]["input"][1]["role"] == "user"
    assert evaluation["response"]["output"][0]["content"][0]["text"] == "Same meaning. [[A=B]]"


def test_not_equal_gives_zero_after_one_call(base_url, judge):
    result = httpx.post(f"{base_url}/verify", json=_body("Lamarck")).json()
    assert result["reward"] == 0.0
    assert len(result["judge_evaluations"]) == 1
    assert result["judge_evaluations"][0]["verdict_label"] == "[[A!=B]]"


def test_swap_disagreement_gives_reward_if_swap_fails(base_url, judge):
    judge.script = ["[[A=B]]", "[[A!=B]]"]
    result = httpx.post(f"{base_url}/verify", json=_body("Darwin")).json()
    assert result["reward"] == 0.0
    assert len(result["judge_evaluations"]) == 2


def test_malformed_judge_output_counts_as_not_equal(base_url, judge):
    judge.script = ["I cannot decide."]
    result = httpx.post(f"{base_url}/verify", json=_body("Darwin")).json()
    assert result["reward"] == 0.0
    assert result["judge_evaluations"][0]["verdict_label"] is None


def test_per_record_regex_extracts_the_answer(base_url, judge):
    body = _body("Thinking about finches... ((Darwin))", template_metadata={"output_regex": PARENS})
    assert httpx.post(f"{base_url}/verify", json=body).json()["reward"] == 1.0
    assert judge.pairs()[0] == ("darwin", "Darwin")


def test_full_generation_rescue_gives_half_reward(base_url, judge):
    judge.script = ["[[A!=B]]", "[[A=B]]"]
    body = _body("Charles Darwin did. ((Charles))", template_metadata={"output_regex": PARENS})
    result = httpx.post(f"{base_url}/verify", json=body).json()
    assert result["reward"] == 0.5
    assert [pair[1] for pair in judge.pairs()] == ["Charles", "Charles Darwin did. ((Charles))"]


def test_expected_answer_falls_back_to_metadata(base_url, judge):
    body = _body("Darwin", expected=None, metadata={"expected_answer": "darwin"})
    del body["expected_answer"]
    result = httpx.post(f"{base_url}/verify", json=body).json()
    assert (result["reward"], result["expected_answer"]) == (1.0, "darwin")


def test_numeric_expected_answer_is_accepted(base_url):
    result = httpx.post(f"{base_url}/verify", json=_body("46", expected=46)).json()
    assert (result["reward"], result["expected_answer"]) == (1.0, "46")


def test_judge_error_status_fails_the_verify_call_with_a_clear_error(base_url, judge):
    judge.fail_with = 400
    reply = httpx.post(f"{base_url}/verify", json=_body("Darwin"))
    assert reply.status_code == 400  # the judge's refusal is passed on, not turned into a 500
    assert "scripted failure" in reply.text


def test_response_extract_regex_from_config_without_swap(judge):
    with _serve_judge_server(judge.url, response_extract_regex=r"Final: (\w+)", check_twice_swap=False) as url:
        result = httpx.post(f"{url}/verify", json=_body("I reckon... Final: Darwin")).json()
    assert result["reward"] == 1.0
    assert judge.pairs() == [("darwin", "Darwin")]


def test_shipped_config_validates_and_its_template_formats():
    config = yaml.safe_load((SERVER_DIR / "configs" / "equivalence_llm_judge.yaml").read_text())
    fields = config["equivalence_llm_judge"]["resources_servers"]["equivalence_llm_judge"]
    parsed = LLMJudgeResourcesServerConfig.model_validate(
        {**fields, "host": "127.0.0.1", "port": 1, "name": "equivalence_llm_judge"}
    )
    prompt = parsed.judge_prompt_template.format(question="q?", expected_answer="EXP", generated_answer="GEN")
    assert "EXP" in prompt and "GEN" in prompt and "[[A=B]]" in prompt and "[[A!=B]]" in prompt
    assert parsed.check_twice_swap is True


def test_example_rows_are_valid_and_match_the_generator():
    from resources_servers.equivalence_llm_judge.data.make_example import build_rows

    rows = [json.loads(line) for line in (SERVER_DIR / "data" / "example.jsonl").read_text().splitlines()]
    assert rows == build_rows()
    assert len(rows) == 5
    for row in rows:
        LLMJudgeRunRequest.model_validate(row)
