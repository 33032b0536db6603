"""ng_viewer's page rendered by headless Chromium: a known rollout, the reward filter and the text search."""

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import httpx
import pytest

from nemo_gym.rollouts.viewer import build_viewer_app
from nemo_gym.testing.servers import serve_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium chromium-driver)"
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=10000",
]


def rollout(i: int, reward: float) -> dict:
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": f"What is the weather in city number {i}?"}],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "temperature": 0.7,
        },
        "response": {
            "id": f"resp_{i}",
            "output": [
                {"type": "reasoning", "id": f"rs_{i}", "summary": [{"type": "summary_text", "text": f"thinking-{i}"}]},
                {
                    "type": "function_call",
                    "name": "get_weather",
                    "arguments": json.dumps({"city": f"C{i}"}),
                    "call_id": f"call_{i}",
                },
                {"type": "function_call_output", "call_id": f"call_{i}", "output": json.dumps({"sky": f"sunny-{i}"})},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": f"Final answer for city {i}: sunny."}],
                },
            ],
        },
        "reward": reward,
        "expected_answer": f"answer-{i}",
        "_ng_rollout": {"row_index": i, "repeat": 0, "agent": "weather_agent"},
    }


@pytest.fixture()
def viewer_url(tmp_path):
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps(rollout(i, float(i % 2))) + "\n" for i in range(5)))
    with serve_app(build_viewer_app(path)) as url:
        yield url


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
    )


def png_distinct_bytes(path: Path) -> int:
    """How varied the decoded pixel data is (a blank page gives a handful of values)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


def test_the_api_filters_by_reward_and_text(viewer_url) -> None:
    good = httpx.get(f"{viewer_url}/api/search", params={"min_reward": 1}).json()
    assert good["matches"] == [1, 3]
    found = httpx.get(f"{viewer_url}/api/search", params={"q": "SUNNY-4"}).json()
    assert found["matches"] == [4]
    assert httpx.get(f"{viewer_url}/api/rollouts/2").json()["expected_answer"] == "answer-2"
    assert httpx.get(f"{viewer_url}/api/rollouts/9").status_code == 404
    assert httpx.get(f"{viewer_url}/api/summary").json()["metrics"]["mean_reward"] == pytest.approx(0.4)


@needs_chromium
def test_chromium_renders_a_known_rollout_with_its_conversation(viewer_url, tmp_path) -> None:
    dom = chromium(tmp_path, "--dump-dom", f"{viewer_url}/?index=3").stdout
    assert 'data-ready="true"' in dom, dom[-2000:]
    assert "Rollout 4" in dom and "reward: 1" in dom
    assert "What is the weather in city number 3?" in dom
    assert "tool call: get_weather" in dom and "&quot;city&quot;: &quot;C3&quot;" in dom.replace('"', "&quot;")
    assert "sunny-3" in dom and "Final answer for city 3: sunny." in dom
    assert "answer-3" in dom  # task fields
    assert "<details><summary>Turn 1 Step 0 - reasoning</summary>" in dom  # reasoning is folded
    assert "Tools (get_weather)" in dom


@needs_chromium
def test_chromium_applies_reward_and_text_filters_from_the_url(viewer_url, tmp_path) -> None:
    dom = chromium(tmp_path, "--dump-dom", f"{viewer_url}/?max_reward=0&q=city%20number%202").stdout
    assert "1 matching rollout(s)" in dom
    assert "What is the weather in city number 2?" in dom and "city number 4?" not in dom


@needs_chromium
def test_chromium_screenshot_of_the_page_is_not_blank(viewer_url, tmp_path) -> None:
    shot = tmp_path / "viewer.png"
    completed = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", f"{viewer_url}/?index=1")
    assert shot.exists(), completed.stderr[-2000:]
    assert png_distinct_bytes(shot) > 50


def test_the_ng_viewer_command_serves_the_page(tmp_path) -> None:
    import sys
    import time

    from nemo_gym.config.ports import find_open_port

    path = tmp_path / "rollouts.jsonl"
    path.write_text(json.dumps(rollout(0, 1.0)) + "\n")
    port = find_open_port()
    command = [sys.executable, "-c", "from nemo_gym.cli.viewer import viewer_main; viewer_main()"]
    process = subprocess.Popen(
        [*command, f"+jsonl_fpath={path}", f"+server_port={port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "ng_viewer did not start"
                time.sleep(0.1)
        assert page.status_code == 200 and "NeMo Gym rollout viewer" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/rollouts/0").json()["reward"] == 1.0
    finally:
        process.terminate()
        process.wait(timeout=10)
