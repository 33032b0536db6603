"""Item 2: a row whose ``text.format`` is a JSON schema is verified (no 500), through /verify and the agent's /run,
in a shipped environment and in a freshly scaffolded one."""

import importlib.util

import httpx

from nemo_gym.cli.scaffold import scaffold_resources_server
from nemo_gym.testing.responses import make_response
from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.example_single_tool_call.app import SimpleWeatherResourcesServer
from tests.faults.stack import json_schema_text_format, still_serves
from tests.integration.env_stack import env_stack


def verify_body() -> dict:
    text = json_schema_text_format()
    return {
        "responses_create_params": {"input": "Weather in Oslo as JSON?", "text": text},
        "response": make_response('{"city": "Oslo"}', text=text),
    }


def test_run_with_a_json_schema_text_format_is_scored() -> None:
    with env_stack(SimpleWeatherResourcesServer, "example_single_tool_call") as stack:
        row = {"responses_create_params": {"input": "Weather in Oslo as JSON?", "text": json_schema_text_format()}}
        response = httpx.post(f"{stack.agent_url}/run", json=row, timeout=60)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["reward"] in (0.0, 1.0)
        assert result["response"]["text"]["format"]["schema"]["required"] == ["city"]
        assert still_serves(stack.agent_url)


def test_a_scaffolded_environment_verifies_a_json_schema_text_format(tmp_path) -> None:
    (app_path,) = [
        path for path in scaffold_resources_server(tmp_path, "resources_servers/my_env") if path.name == "app.py"
    ]
    spec = importlib.util.spec_from_file_location("scaffolded_my_env_app", app_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.MyEnvResourcesServerConfig(host="127.0.0.1", port=0, entrypoint="app.py", name="my_env")
    server = module.MyEnvResourcesServer(config=config, server_client=make_server_client())
    with serve_app(server.setup_webserver()) as url:
        response = httpx.post(f"{url}/verify", json=verify_body(), timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["response"]["text"]["format"]["schema"]["required"] == ["city"]
        assert still_serves(url)
