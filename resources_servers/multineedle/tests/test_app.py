"""The multineedle entrypoint serves example_multi_step under the historical name."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from nemo_gym.config.ports import find_open_port

FOLDER = Path(__file__).resolve().parents[1]
REPO_ROOT = FOLDER.parents[1]


def test_alias_entrypoint_serves_example_multi_step_tools() -> None:
    port = find_open_port()
    config = yaml.safe_load((FOLDER / "configs" / "multineedle.yaml").read_text())
    fields = config["multineedle_resources_server"]["resources_servers"]["multineedle"]
    fields.update({"host": "127.0.0.1", "port": port})
    env = {
        **os.environ,
        "NEMO_GYM_CONFIG_DICT": yaml.safe_dump(
            {"multineedle_resources_server": config["multineedle_resources_server"]}
        ),
        "NEMO_GYM_CONFIG_PATH": "multineedle_resources_server",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=FOLDER, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")[-2000:]
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the alias server did not become healthy within 60s"
            time.sleep(0.1)
        seeded = httpx.post(f"{base_url}/seed_session", json={}, timeout=10)
        assert "ExampleMultiStepResourcesServer___multineedle_resources_server" in seeded.headers["set-cookie"]
        reply = httpx.post(f"{base_url}/get_synonym_value", json={"synonym": "anything"}, timeout=10)
        assert reply.status_code == 200, reply.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
