"""``ng_init_resources_server``: a new resources server folder that passes ``ng_test`` as generated."""

import re
from pathlib import Path, PurePath

from nemo_gym.errors import NeMoGymError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

DATA_GITIGNORE = """*train.jsonl
*validation.jsonl
*train_prepare.jsonl
*validation_prepare.jsonl
*example_prepare.jsonl
"""

CONFIG_TEMPLATE = """{name}_resources_server:
  resources_servers:
    {name}:
      entrypoint: app.py
      domain: other
      verified: false
      description: TODO one line on what this environment trains
{name}_simple_agent:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      resources_server:
        type: resources_servers
        name: {name}_resources_server
      model_server:
        type: responses_api_models
        name: policy_model
      datasets:
      - name: train
        type: train
        jsonl_fpath: resources_servers/{name}/data/train.jsonl
        num_repeats: 1
        gitlab_identifier:
          dataset_name: {name}
          version: 0.0.1
          artifact_fpath: train.jsonl
        license: Apache 2.0
      - name: validation
        type: validation
        jsonl_fpath: resources_servers/{name}/data/validation.jsonl
        num_repeats: 1
        gitlab_identifier:
          dataset_name: {name}
          version: 0.0.1
          artifact_fpath: validation.jsonl
        license: Apache 2.0
      - name: example
        type: example
        jsonl_fpath: resources_servers/{name}/data/example.jsonl
        num_repeats: 1
"""

APP_TEMPLATE = '''"""{name}: TODO say what this environment trains and how it is rewarded."""

from fastapi import FastAPI

from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)


class {title}ResourcesServerConfig(BaseResourcesServerConfig):
    pass


class {title}ResourcesServer(SimpleResourcesServer):
    config: {title}ResourcesServerConfig

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()
        # One POST route per tool; the path is the tool's `name` in the dataset's `tools`, the body its arguments:
        # app.post("/my_tool")(self.my_tool)
        return app

    async def seed_session(self, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        # Per-rollout state goes here, keyed by `request.session[SESSION_ID_KEY]` (add `request: Request`).
        return BaseSeedSessionResponse()

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        # TODO: score body.response against the row's task fields (declare them on a BaseVerifyRequest subclass).
        return BaseVerifyResponse.from_request(body, reward=1.0)


if __name__ == "__main__":
    {title}ResourcesServer.run_webserver()
'''

TEST_TEMPLATE = '''"""{name} over HTTP."""

import httpx

from nemo_gym.testing.servers import make_server_client, serve_app
from resources_servers.{name}.app import {title}ResourcesServer, {title}ResourcesServerConfig


def make_server() -> {title}ResourcesServer:
    config = {title}ResourcesServerConfig(host="127.0.0.1", port=0, entrypoint="app.py", name="{name}")
    return {title}ResourcesServer(config=config, server_client=make_server_client())


def test_sanity() -> None:
    make_server()


def test_verify_returns_a_reward() -> None:
    body = {{
        "responses_create_params": {{"input": "Hello"}},
        "response": {{
            "id": "resp_1",
            "object": "response",
            "created_at": 0,
            "model": "policy",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }},
    }}
    with serve_app(make_server().setup_webserver()) as url:
        assert httpx.post(url + "/seed_session", json={{}}).status_code == 200
        response = httpx.post(url + "/verify", json=body)
    assert response.status_code == 200
    assert response.json()["reward"] == 1.0
'''

README_TEMPLATE = """# {name}

## Description

TODO: what the environment trains, its tools (one `POST /<tool>` each) and its reward rule.

Data links: ?

## Licensing information

- Code: ?
- Data: ?

## Dependencies

- nemo_gym: Apache 2.0
- ?
"""

REQUIREMENTS = (
    "# This server's own packages. The core (nemo-gym) comes from the environment that runs ng_run; with\n"
    "# +isolated_envs=true these are installed into the server's .venv on top of it (see docs/deployment.md).\n"
)


def title_name(name: str) -> str:
    """``my_env_2`` -> ``MyEnv2``."""
    return "".join(piece.capitalize() for piece in name.split("_"))


def check_scaffold_path(entrypoint: str) -> tuple[PurePath, str]:
    """Validate ``resources_servers/<name>`` before anything is created; returns the path and the name."""
    path = PurePath(entrypoint.rstrip("/"))
    if path.is_absolute() or len(path.parts) != 2:
        raise NeMoGymError(
            f"+entrypoint must be a relative path with 2 parts: resources_servers/<name> (got {entrypoint!r})"
        )
    if path.parts[0] != "resources_servers":
        raise NeMoGymError(
            f"ng_init_resources_server creates resources servers only: +entrypoint must start with "
            f"resources_servers/ (got {entrypoint!r})"
        )
    name = path.parts[1]
    if not NAME_PATTERN.match(name):
        raise NeMoGymError(
            f"The server name must be snake_case (lowercase letters, digits, underscores; starting with a letter), "
            f"because it is imported as resources_servers.<name> (got {name!r})"
        )
    return path, name


def scaffold_resources_server(base: Path, entrypoint: str) -> list[Path] | None:
    """Write the new folder under ``base``; returns the files written, or None if the folder already exists."""
    path, name = check_scaffold_path(entrypoint)
    folder = base / path
    if folder.exists():
        return None
    title = title_name(name)
    files = {
        f"configs/{name}.yaml": CONFIG_TEMPLATE.format(name=name),
        "app.py": APP_TEMPLATE.format(name=name, title=title),
        "tests/test_app.py": TEST_TEMPLATE.format(name=name, title=title),
        "requirements.txt": REQUIREMENTS,
        "README.md": README_TEMPLATE.format(name=name),
        "data/.gitignore": DATA_GITIGNORE,
    }
    written = []
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        written.append(target)
    return written
