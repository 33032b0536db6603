"""The small commands: help on every entry point, ng_version, ng_dump_config, bad input to ng_collect_rollouts.

The ones that talk to a (missing) head server are in tests/integration/test_cli_against_servers.py."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def run_entry(target: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    module, function = target.split(":")
    code = f"import sys; sys.argv = ['cmd', *sys.argv[1:]]; from {module} import {function}; {function}()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=cwd or ROOT
    )


def test_every_command_has_a_short_and_long_name() -> None:
    short = {name[3:] for name in SCRIPTS if name.startswith("ng_")}
    long = {name[9:] for name in SCRIPTS if name.startswith("nemo_gym_")}
    assert short == long
    assert {
        "run",
        "test",
        "test_all",
        "collect_rollouts",
        "prepare_data",
        "status",
        "dump_config",
        "help",
        "version",
        "init_resources_server",
        "viewer",
        "pip_list",
    } <= short


@pytest.mark.parametrize("name", sorted(name for name in SCRIPTS if name.startswith("ng_")))
def test_help_flag_prints_parameters_and_exits_zero(name: str) -> None:
    result = run_entry(SCRIPTS[name], "+h=true")
    assert result.returncode == 0, result.stderr
    assert "Displaying help for" in result.stdout


def test_version_json() -> None:
    result = run_entry(SCRIPTS["ng_version"], "+json=true")
    info = json.loads(result.stdout)
    assert info["nemo_gym"] and info["dependencies"]["ray"] and info["system"]["cpus"] >= 1


def test_dump_config_masks_secrets_and_resolves(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("policy_api_key: sk-dont-show-me\nurl: ${base}/v1\nbase: http://h\n")
    result = run_entry(SCRIPTS["ng_dump_config"], f"+config_paths=[{tmp_path / 'c.yaml'}]", "+max_output_tokens=9")
    assert result.returncode == 0, result.stderr
    assert "sk-dont-show-me" not in result.stdout
    assert "policy_api_key: '****'" in result.stdout
    assert "url: http://h/v1" in result.stdout and "max_output_tokens: 9" in result.stdout


def test_config_errors_are_one_line_and_exit_nonzero(tmp_path: Path) -> None:
    result = run_entry(SCRIPTS["ng_dump_config"], "+config_paths=[does/not/exist.yaml]")
    assert result.returncode == 1
    assert "does/not/exist.yaml" in result.stderr and "Traceback" not in result.stderr


def collect_with_no_head_server(tmp_path: Path, rows: str) -> subprocess.CompletedProcess[str]:
    """ng_collect_rollouts over ``rows`` (JSONL text) into tmp_path/out.jsonl, with no head server on its port."""
    from nemo_gym.config.ports import find_open_port

    (tmp_path / "rows.jsonl").write_text(rows)
    return run_entry(
        SCRIPTS["ng_collect_rollouts"],
        "+agent_name=a",
        f"+input_jsonl_fpath={tmp_path / 'rows.jsonl'}",
        f"+output_jsonl_fpath={tmp_path / 'out.jsonl'}",
        f"+head_server.port={find_open_port()}",
    )


def test_collect_reports_bad_input_lines_before_contacting_any_server(tmp_path: Path) -> None:
    result = collect_with_no_head_server(
        tmp_path, '{"responses_create_params": {"input": "hi"}}\nnot json\n{"task": 1}\n'
    )
    assert result.returncode == 1
    assert "line 2" in result.stderr and "line 3" in result.stderr
    assert "head server" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists()
