"""ng_init_resources_server, ng_test, ng_test_all and ng_pip_list as commands, on throw-away server trees."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_gym import PARENT_DIR

ROW = {"responses_create_params": {"input": [{"role": "user", "content": "hi"}]}}


def run_cli(function: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    code = f"from nemo_gym.cli.testing import {function}; {function}()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def make_module(root: Path, module: str, test_source: str | None, readme: bool = True, data: bool = False) -> Path:
    folder = root / module
    (folder / "tests").mkdir(parents=True)
    if readme:
        (folder / "README.md").write_text(f"# {module}\n")
    if test_source is not None:
        (folder / "tests" / "test_it.py").write_text(test_source)
    if data:
        (folder / "data").mkdir()
        (folder / "data" / "example.jsonl").write_text((json.dumps(ROW) + "\n") * 5)
        (folder / "data" / "example_metrics.json").write_text('{"Number of examples": 5}')
        (folder / "data" / "example_rollouts.jsonl").write_text('{"reward": 1.0}\n' * 5)
    return folder


def test_a_new_resources_server_passes_ng_test_as_generated(tmp_path: Path) -> None:
    init = run_cli("init_resources_server_main", tmp_path, "+entrypoint=resources_servers/fresh_env")
    assert init.returncode == 0, init.stderr
    assert "Created resources_servers/fresh_env" in init.stdout
    tested = run_cli("test_main", tmp_path, "+entrypoint=resources_servers/fresh_env")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout
    # Its data is not there yet: validation says what to create, on one line each, and fails.
    validated = run_cli("test_main", tmp_path, "+entrypoint=resources_servers/fresh_env", "+should_validate_data=true")
    assert validated.returncode == 1
    assert "Data problem: resources_servers/fresh_env/data/example.jsonl is missing" in validated.stderr
    assert "Traceback" not in validated.stderr


def test_ng_test_passes_on_pytests_exit_code_and_says_how_to_rerun(tmp_path: Path) -> None:
    make_module(tmp_path, "resources_servers/broken", "def test_fails():\n    assert 1 == 2\n")
    result = run_cli("test_main", tmp_path, "+entrypoint=resources_servers/broken")
    assert result.returncode == 1
    assert "You can run detailed tests via `cd resources_servers/broken && pytest`." in result.stdout


def test_ng_test_all_runs_every_module_and_summarises(tmp_path: Path) -> None:
    make_module(tmp_path, "resources_servers/good", "def test_ok():\n    pass\n", data=True)
    make_module(tmp_path, "resources_servers/no_data", "def test_ok():\n    pass\n")
    make_module(tmp_path, "resources_servers/bad", "def test_fails():\n    assert False\n")
    make_module(tmp_path, "responses_api_agents/empty", None)
    odd = make_module(tmp_path, "responses_api_agents/odd", "def test_ok():\n    pass\n")
    (odd / "conftest.py").write_text(
        "import pytest\n\ndef pytest_configure(config):\n    pytest.exit('odd', returncode=3)\n"
    )
    make_module(tmp_path, "responses_api_models/zzz_last", "def test_ok():\n    pass\n")
    make_module(tmp_path, "responses_api_models/undocumented", "def test_ok():\n    pass\n", readme=False)

    result = run_cli("test_all_main", tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "- responses_api_models/undocumented" in out.split("Testing")[0]
    assert "undocumented" not in out.split("Testing")[1]
    assert "passed: 3 / 6 (50.00%)" in out  # good, no_data, zzz_last (ran after the odd exit code)
    assert "failed: 2 / 6 (33.33%)" in out  # bad, odd
    assert "missing (no tests collected): 1 / 6 (16.67%)" in out
    assert "data validation failed: 2 / 6" in out  # no_data, bad
    assert "failed (exit 3)" in out
    assert "ng_test +entrypoint=resources_servers/bad" in out


def test_ng_test_all_succeeds_when_everything_passes(tmp_path: Path) -> None:
    make_module(tmp_path, "resources_servers/good", "def test_ok():\n    pass\n", data=True)
    make_module(tmp_path, "responses_api_agents/agent", "def test_ok():\n    pass\n")
    assert run_cli("test_all_main", tmp_path).returncode == 0
    make_module(tmp_path, "responses_api_agents/undocumented", None, readme=False)
    strict = run_cli("test_all_main", tmp_path, "+fail_on_total_and_test_mismatch=true")
    assert strict.returncode == 1
    assert "Server folders without a README.md (not tested): responses_api_agents/undocumented" in strict.stderr


@pytest.mark.slow
def test_pip_list_without_a_venv_lists_the_current_interpreter(tmp_path: Path) -> None:
    result = run_cli("pip_list_main", PARENT_DIR, "+entrypoint=responses_api_agents/simple_agent", "+format=json")
    assert result.returncode == 0, result.stderr
    header, listing = result.stdout.split("-" * 72 + "\n")
    assert "Package list for: responses_api_agents/simple_agent" in header
    assert sys.executable in header
    assert "fastapi" in {package["name"].lower() for package in json.loads(listing)}
