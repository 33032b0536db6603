"""The commands of the user's deployment guide, run as written (with a scripted server standing in for vLLM)."""

import json
import shutil
import signal
from pathlib import Path

import httpx
import pytest
import yaml

from nemo_gym.testing.scripted_upstream import ScriptedUpstream
from tests.e2e.ngrun_harness import NgRun

REPO = Path(__file__).resolve().parents[2]
FOLDERS = [
    "responses_api_agents/simple_agent",
    "resources_servers/example_single_tool_call",
    "resources_servers/example_multi_step",
    "resources_servers/multineedle",
    "responses_api_models/openai_model",
    "responses_api_models/vllm_model",
]
GUIDE_ENV_YAML = "policy_api_key: sk-your-openai-key\n"  # exactly what the guide's step 2 writes


@pytest.fixture()
def guide_root(tmp_path: Path) -> Path:
    root = tmp_path / "Gym"
    for folder in FOLDERS:
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    (root / "env.yaml").write_text(GUIDE_ENV_YAML)
    return root


@pytest.fixture()
def runs():
    started: list[NgRun] = []
    yield started
    for run in started:
        run.kill_everything()


def test_local_development_simple_config(guide_root: Path, tmp_path: Path, runs) -> None:
    # ng_run "+config_paths=[responses_api_agents/simple_agent/config.yaml]"
    run = NgRun(tmp_path / "run", "+config_paths=[responses_api_agents/simple_agent/config.yaml]", root=guide_root)
    runs.append(run)
    records = run.wait_ready()
    assert {record["name"] for record in records} == {"example_single_tool_call", "simple_agent", "openai_model"}
    config = yaml.safe_load(httpx.get(f"{run.head_url}/global_config_dict_yaml").json())
    assert config["policy_api_key"] == "****"
    assert "sk-your-openai-key" not in run.output()
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(20) == 0


def test_vllm_quick_start_with_custom_base_url_and_model_name(guide_root: Path, tmp_path: Path, runs) -> None:
    with ScriptedUpstream() as vllm:
        bare_url = vllm.base_url.removesuffix("/v1")  # the guide writes http://your-vllm-server:10240
        config_paths = (
            "resources_servers/multineedle/configs/multineedle.yaml,"
            "responses_api_models/vllm_model/configs/vllm_model.yaml"
        )
        run = NgRun(
            tmp_path / "run",
            f"+config_paths=[{config_paths}]",
            f"+policy_model.vllm_model.base_url={bare_url}",
            "+policy_model.vllm_model.model_name=your-model-name",
            root=guide_root,
        )
        runs.append(run)
        records = run.wait_ready()
        agent = next(record for record in records if record["process_name"] == "multineedle_simple_agent")
        row = json.loads(
            (guide_root / "resources_servers/example_multi_step/data/example.jsonl").read_text().splitlines()[0]
        )
        reply = httpx.post(f"{agent['url']}/run", json=row, timeout=60)
        assert reply.status_code == 200, reply.text
        assert "reward" in reply.json()
        chat_bodies = [request.body for request in vllm.requests if request.path == "/v1/chat/completions"]
        assert chat_bodies and all(body["model"] == "your-model-name" for body in chat_bodies)
        run.process.send_signal(signal.SIGTERM)
        assert run.wait_exit(20) == 0
