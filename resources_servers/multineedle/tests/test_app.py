"""The multineedle entrypoint serves example_multi_step under the historical name."""

from pathlib import Path

import httpx
import yaml

from nemo_gym.config.ports import find_open_port
from nemo_gym.testing.servers import run_entrypoint

FOLDER = Path(__file__).resolve().parents[1]


def test_alias_entrypoint_serves_example_multi_step_tools() -> None:
    config = yaml.safe_load((FOLDER / "configs" / "multineedle.yaml").read_text())
    instance = {"multineedle_resources_server": config["multineedle_resources_server"]}
    fields = instance["multineedle_resources_server"]["resources_servers"]["multineedle"]
    fields.update({"host": "127.0.0.1", "port": find_open_port()})
    with run_entrypoint(FOLDER, "multineedle_resources_server", instance) as (base_url, _):
        seeded = httpx.post(f"{base_url}/seed_session", json={}, timeout=10)
        assert "ExampleMultiStepResourcesServer___multineedle_resources_server" in seeded.headers["set-cookie"]
        reply = httpx.post(f"{base_url}/get_synonym_value", json={"synonym": "anything"}, timeout=10)
        assert reply.status_code == 200, reply.text
