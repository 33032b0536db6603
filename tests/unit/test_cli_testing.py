"""ng_test / ng_test_all / ng_init_resources_server / ng_pip_list: paths, data validation, summary, scaffold."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from nemo_gym.cli.module_tests import (
    ModuleResult,
    TestAllSummary,
    check_module_path,
    module_candidates,
    validate_example_data,
)
from nemo_gym.cli.scaffold import check_scaffold_path, scaffold_resources_server, title_name
from nemo_gym.config.schema import BaseServerInstanceConfig
from nemo_gym.errors import NeMoGymError

ROW = {"responses_create_params": {"input": [{"role": "user", "content": "hi"}]}, "expected_answer": "A"}


def run_command(main, monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ng_cmd", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def write_data(folder: Path, rows: int = 5, metrics: int | None = 5, rollouts: int | None = 5) -> None:
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "example.jsonl").write_text("".join(json.dumps(ROW) + "\n" for _ in range(rows)))
    if metrics is not None:
        (data / "example_metrics.json").write_text(json.dumps({"name": "example", "Number of examples": metrics}))
    if rollouts is not None:
        (data / "example_rollouts.jsonl").write_text('{"reward": 1.0}\n' * rollouts)


# ---------------------------------------------------------------------------------------------------- paths


@pytest.mark.parametrize("bad", ["resources_servers", "a/b/c", "/abs/path", "../x", "models/x"])
def test_module_path_must_be_a_relative_type_and_folder(bad: str) -> None:
    with pytest.raises(NeMoGymError, match=r"\+entrypoint"):
        check_module_path(bad)


def test_module_path_accepts_each_server_type() -> None:
    for server_type in ("resources_servers", "responses_api_agents", "responses_api_models"):
        assert check_module_path(f"{server_type}/x/").parts == (server_type, "x")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("responses_api_agents/my_agent", "resources servers only"),
        ("resources_servers/My-Env", "snake_case"),
        ("resources_servers/a/b", "2 parts"),
        ("/tmp/resources_servers", "2 parts"),
    ],
)
def test_scaffold_path_is_checked(bad: str, message: str) -> None:
    with pytest.raises(NeMoGymError, match=message):
        check_scaffold_path(bad)


def test_title_name_joins_capitalised_pieces() -> None:
    assert title_name("my_env_2") == "MyEnv2"


# ----------------------------------------------------------------------------------------- data validation


def test_complete_example_data_has_no_problems(tmp_path: Path) -> None:
    folder = tmp_path / "resources_servers" / "env"
    write_data(folder)
    assert validate_example_data(folder) == []


def test_missing_data_names_each_file_and_the_command_that_makes_it(tmp_path: Path) -> None:
    folder = tmp_path / "resources_servers" / "env"
    folder.mkdir(parents=True)
    problems = validate_example_data(folder)
    assert len(problems) == 3
    assert problems[0].startswith("resources_servers/env/data/example.jsonl is missing")
    assert "ng_prepare_data" in problems[1] and "+mode=example_validation" in problems[1]
    assert "ng_collect_rollouts +agent_name=env_simple_agent" in problems[2]


def test_wrong_counts_and_conflicts_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "resources_servers" / "env"
    write_data(folder, rows=4, metrics=6, rollouts=3)
    (folder / "data" / "example_metrics_conflict.json").write_text("{}")
    problems = "\n".join(validate_example_data(folder))
    assert "example.jsonl has 4 lines (expected exactly 5)" in problems
    assert '"Number of examples": 6 (expected 5)' in problems
    assert "example_metrics_conflict.json" in problems
    assert "example_rollouts.jsonl has 3 lines (expected 5)" in problems


def test_invalid_rows_are_named_by_line(tmp_path: Path) -> None:
    folder = tmp_path / "resources_servers" / "env"
    write_data(folder)
    lines = [json.dumps(ROW)] * 5
    lines[1] = "{not json"
    lines[2] = json.dumps({"question": "no params"})
    lines[3] = json.dumps({"responses_create_params": {"input": "x", "temprature": 1}})
    (folder / "data" / "example.jsonl").write_text("\n".join(lines) + "\n")
    problems = validate_example_data(folder)
    assert problems[0].startswith("resources_servers/env/data/example.jsonl line 2: not valid JSON")
    assert problems[1].endswith("line 3: a row must be a JSON object with `responses_create_params`")
    assert "line 4: responses_create_params.temprature: Extra inputs are not permitted" in problems[2]
    assert len(problems) == 3


def test_agent_hint_comes_from_the_config_listing_the_example(tmp_path: Path) -> None:
    folder = tmp_path / "resources_servers" / "env"
    (folder / "configs").mkdir(parents=True)
    config = {
        "my_agent": {
            "responses_api_agents": {
                "simple_agent": {"datasets": [{"jsonl_fpath": "resources_servers/env/data/example.jsonl"}]}
            }
        }
    }
    (folder / "configs" / "env.yaml").write_text(yaml.safe_dump(config))
    problems = validate_example_data(folder)
    assert "+agent_name=my_agent" in problems[-1]
    assert "+config_paths=[resources_servers/env/configs/env.yaml," in problems[1]


# ------------------------------------------------------------------------------------------------ test_all


def test_candidates_are_folders_with_a_readme(tmp_path: Path) -> None:
    for module in ("resources_servers/a", "resources_servers/b", "responses_api_agents/c"):
        (tmp_path / module).mkdir(parents=True)
    (tmp_path / "resources_servers/__pycache__").mkdir()
    (tmp_path / "resources_servers/a/README.md").write_text("# a")
    (tmp_path / "responses_api_agents/c/README.md").write_text("# c")
    candidates, tested = module_candidates(tmp_path)
    assert candidates == ["resources_servers/a", "resources_servers/b", "responses_api_agents/c"]
    assert tested == ["resources_servers/a", "responses_api_agents/c"]


def test_exit_codes_are_classified_and_unknown_ones_fail() -> None:
    assert [ModuleResult("m", code).tests for code in (0, 1, 5, 3)] == [
        "passed",
        "failed",
        "missing",
        "failed (exit 3)",
    ]
    summary = TestAllSummary(results=[ModuleResult("a", 0, []), ModuleResult("b", 4)])
    assert summary.count("failed") == 1 and not summary.ok
    assert TestAllSummary(results=[ModuleResult("a", 0, None)]).ok
    assert not TestAllSummary(results=[ModuleResult("a", 0, ["missing file"])]).ok


def test_summary_of_zero_modules_prints_without_dividing_by_zero(capsys) -> None:
    from nemo_gym.cli.testing import print_summary

    print_summary(TestAllSummary())
    assert "passed: 0 / 0 (n/a)" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ scaffold


def test_scaffold_writes_the_documented_files(tmp_path: Path) -> None:
    written = scaffold_resources_server(tmp_path, "resources_servers/my_env")
    folder = tmp_path / "resources_servers" / "my_env"
    assert sorted(str(path.relative_to(folder)) for path in written) == [
        "README.md",
        "app.py",
        "configs/my_env.yaml",
        "data/.gitignore",
        "requirements.txt",
        "tests/test_app.py",
    ]
    assert "class MyEnvResourcesServer(SimpleResourcesServer)" in (folder / "app.py").read_text()
    assert "from resources_servers.my_env.app import" in (folder / "tests/test_app.py").read_text()
    assert "isolated_envs" in (folder / "requirements.txt").read_text()


def test_scaffold_config_is_a_valid_server_and_agent(tmp_path: Path) -> None:
    scaffold_resources_server(tmp_path, "resources_servers/my_env")
    config = yaml.safe_load((tmp_path / "resources_servers/my_env/configs/my_env.yaml").read_text())
    server = BaseServerInstanceConfig.model_validate(config["my_env_resources_server"]["resources_servers"]["my_env"])
    assert server.domain.value == "other"
    agent = BaseServerInstanceConfig.model_validate(
        config["my_env_simple_agent"]["responses_api_agents"]["simple_agent"]
    )
    assert [dataset.name for dataset in agent.datasets] == ["train", "validation", "example"]
    assert agent.datasets[2].jsonl_fpath == "resources_servers/my_env/data/example.jsonl"


def test_init_creates_nothing_for_a_wrong_server_type(tmp_path: Path, monkeypatch) -> None:
    from nemo_gym.cli.testing import init_resources_server_main

    monkeypatch.chdir(tmp_path)
    assert run_command(init_resources_server_main, monkeypatch, "+entrypoint=responses_api_agents/x") == 1
    assert list(tmp_path.iterdir()) == []


def test_init_leaves_an_existing_folder_alone(tmp_path: Path, monkeypatch, capsys) -> None:
    from nemo_gym.cli.testing import init_resources_server_main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "resources_servers/taken").mkdir(parents=True)
    assert run_command(init_resources_server_main, monkeypatch, "+entrypoint=resources_servers/taken") == 0
    assert "Folder already exists: resources_servers/taken. Exiting init." in capsys.readouterr().out
    assert list((tmp_path / "resources_servers/taken").iterdir()) == []


def test_commands_print_help(monkeypatch, capsys) -> None:
    from nemo_gym.cli import testing

    for main in (testing.test_main, testing.test_all_main, testing.init_resources_server_main, testing.pip_list_main):
        assert run_command(main, monkeypatch, "+h=true") == 0
    out = capsys.readouterr().out
    assert "Displaying help for PipListConfig" in out and "should_validate_data" in out


def test_pip_list_rejects_a_bad_format(monkeypatch, capsys) -> None:
    from nemo_gym.cli.testing import pip_list_main

    code = run_command(pip_list_main, monkeypatch, "+entrypoint=resources_servers/mcqa", "+format=table")
    assert code == 1
    assert "+format:" in capsys.readouterr().err
