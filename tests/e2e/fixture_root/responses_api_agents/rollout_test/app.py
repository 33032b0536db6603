"""A tiny agent for the end-to-end tests of ng_collect_rollouts: ``/run`` scores the row without a model.

The reward is 1.0 when the row's ``answer`` equals its ``expected_answer``; a row with ``fail: true`` gets a 500.
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nemo_gym.base_responses_api_agent import BaseResponsesAPIAgentConfig, SimpleResponsesAPIAgent


class RolloutTestConfig(BaseResponsesAPIAgentConfig):
    label: str = "rollout_test"


class RolloutTestAgent(SimpleResponsesAPIAgent):
    config: RolloutTestConfig

    def setup_webserver(self) -> FastAPI:
        app = self.create_app()
        app.post("/run")(self.run)
        return app

    async def run(self, request: Request) -> JSONResponse:
        row = await request.json()
        if row.get("fail"):
            return JSONResponse({"detail": "this row always fails"}, status_code=500)
        output = [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": row["answer"]}]}
        ]
        result = {
            **row,
            "response": {"id": f"resp_{row.get('id')}", "output": output},
            "reward": float(row.get("answer") == row.get("expected_answer")),
            "agent_label": self.config.label,
        }
        return JSONResponse(result)

    async def responses(self, body):  # not used by these tests
        raise NotImplementedError


if __name__ == "__main__":
    RolloutTestAgent.run_webserver()
