"""Developer commands: ``ng_test``, ``ng_test_all``, ``ng_dev_test``, ``ng_init_resources_server``, ``ng_pip_list``."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field
from rich.table import Table

from nemo_gym.cli.common import BaseNeMoGymCLIConfig, command, console, err_console, validate_command_config
from nemo_gym.cli.module_tests import (
    ModuleResult,
    TestAllSummary,
    find_test_root,
    locate_module,
    module_candidates,
    run_module_tests,
    validate_example_data,
)
from nemo_gym.cli.scaffold import check_scaffold_path, scaffold_resources_server
from nemo_gym.config.cli_overrides import parse_overrides


class RunConfig(BaseNeMoGymCLIConfig):
    """A command that acts on one server folder."""

    entrypoint: str = Field(description="a relative path with 2 parts, e.g. `responses_api_agents/simple_agent`")


class TestConfig(RunConfig):
    """Run the tests of one server folder with this interpreter's pytest (from inside the folder)."""

    __test__ = False  # not a pytest test class

    should_validate_data: bool = Field(
        default=False, description="also check data/example.jsonl, example_metrics.json and example_rollouts.jsonl"
    )


class TestAllConfig(BaseNeMoGymCLIConfig):
    """Run the tests and the example-data checks of every server folder that has a README.md."""

    __test__ = False

    fail_on_total_and_test_mismatch: bool = Field(
        default=False, description="fail when some server folder has no README.md (and so is not tested)"
    )


class DevTestConfig(BaseNeMoGymCLIConfig):
    """Run the test suite of the working directory (`pytest --durations=10`, with coverage when pytest-cov is
    installed) and exit with pytest's code."""


class InitResourcesServerConfig(RunConfig):
    """Create a new resources server folder (app, config, tests, README) that passes `ng_test` as generated."""

    entrypoint: str = Field(description="the folder to create: `resources_servers/<snake_case_name>`")


class PipListConfig(RunConfig):
    """List the Python packages that a server folder runs with."""

    entrypoint: str = Field(description="a relative path with 2 parts, e.g. `resources_servers/mcqa`")
    format: Literal["columns", "freeze", "json"] | None = Field(default=None, description="pip's list format")
    outdated: bool = Field(default=False, description="only packages with a newer release")


@command
def test_main() -> int:
    config = validate_command_config(TestConfig, parse_overrides())
    folder = locate_module(config.entrypoint)
    code = run_module_tests(folder)
    if code != 0:
        console.print(f"You can run detailed tests via `cd {config.entrypoint} && pytest`.", markup=False)
        return code
    if config.should_validate_data and folder.parent.name == "resources_servers":
        problems = validate_example_data(folder)
        for problem in problems:
            err_console.print(f"Data problem: {problem}", markup=False, soft_wrap=True)
        if problems:
            return 1
        console.print(f"The data for {config.entrypoint} has been successfully validated!", markup=False)
    return 0


@command
def test_all_main() -> int:
    config = validate_command_config(TestAllConfig, parse_overrides())
    root = find_test_root()
    candidates, tested = module_candidates(root)
    console.print("Found server folders:" + "".join(f"\n- {module}" for module in candidates), markup=False)
    console.print("Testing (the ones with a README.md):" + "".join(f"\n- {m}" for m in tested), markup=False)
    summary = TestAllSummary(untested=[module for module in candidates if module not in tested])
    for index, module in enumerate(tested, start=1):
        console.rule(f"[{index}/{len(tested)}] {module}")
        folder = root / module
        result = ModuleResult(module=module, exit_code=run_module_tests(folder))
        if folder.parent.name == "resources_servers":
            result.data_problems = validate_example_data(folder)
        summary.results.append(result)
    print_summary(summary)
    mismatch = config.fail_on_total_and_test_mismatch and summary.untested
    if mismatch:
        err_console.print(
            "Server folders without a README.md (not tested): " + ", ".join(summary.untested),
            markup=False,
            soft_wrap=True,
        )
    return 0 if summary.ok and not mismatch else 1


def print_summary(summary: TestAllSummary) -> None:
    table = Table(title="ng_test_all")
    table.add_column("server folder")
    table.add_column("tests")
    table.add_column("example data")
    styles = {"passed": "green", "missing": "yellow"}
    for result in summary.results:
        tests_style = styles.get(result.tests, "red")
        if result.data_problems is None:
            data = "-"
        elif result.data_ok:
            data = "[green]valid[/]"
        else:
            data = f"[red]{len(result.data_problems)} problem(s)[/]"
        table.add_row(result.module, f"[{tests_style}]{result.tests}[/]", data)
    console.print(table)
    total = len(summary.results)
    rows = [
        ("passed", summary.count("passed")),
        ("failed", summary.count("failed")),
        ("missing (no tests collected)", summary.count("missing")),
        ("data validation failed", len(summary.data_failed)),
    ]
    for label, count in rows:
        share = f"{100 * count / total:.2f}%" if total else "n/a"
        console.print(f"{label}: {count} / {total} ({share})", markup=False)
    for result in summary.data_failed:
        for problem in result.data_problems or []:
            console.print(f"  {result.module}: {problem}", markup=False, soft_wrap=True)
    failing = [result.module for result in summary.results if result.exit_code != 0]
    if failing:
        console.print(f"Rerun the first failing module with: ng_test +entrypoint={failing[0]}", markup=False)
    if summary.data_failed:
        console.print(
            f"Recheck its data with: ng_test +entrypoint={summary.data_failed[0].module} +should_validate_data=true",
            markup=False,
        )


@command
def dev_test_main() -> int:
    validate_command_config(DevTestConfig, parse_overrides())
    coverage = ["--cov=."] if importlib.util.find_spec("pytest_cov") is not None else []
    return subprocess.run([sys.executable, "-m", "pytest", *coverage, "--durations=10"]).returncode


@command
def init_resources_server_main() -> int:
    config = validate_command_config(InitResourcesServerConfig, parse_overrides())
    check_scaffold_path(config.entrypoint)  # before anything is created
    written = scaffold_resources_server(Path.cwd(), config.entrypoint)
    if written is None:
        console.print(f"Folder already exists: {config.entrypoint}. Exiting init.", markup=False)
        return 0
    console.print(f"Created {config.entrypoint}:", markup=False)
    for path in written:
        console.print(f"  {path.relative_to(Path.cwd())}", markup=False)
    console.print(f"Next: edit app.py, add data/example.jsonl, then `ng_test +entrypoint={config.entrypoint}`.")
    return 0


@command
def pip_list_main() -> int:
    config = validate_command_config(PipListConfig, parse_overrides())
    folder = locate_module(config.entrypoint)
    venv = folder / ".venv"
    python = venv / "bin" / "python"
    console.print(f"  Package list for: {config.entrypoint}", markup=False)
    if python.exists():
        console.print(f"Virtual environment: {venv}", markup=False)
    else:
        # Servers run with the current interpreter unless isolated environments are enabled.
        python = Path(sys.executable)
        console.print(f"No virtual environment in {venv}; this server runs with {python}", markup=False)
    console.print("-" * 72, markup=False)
    args = ["list"]
    if config.format:
        args.append(f"--format={config.format}")
    if config.outdated:
        args.append("--outdated")
    uv = shutil.which("uv")
    command_line = [uv, "pip", *args, "--python", str(python)] if uv else [str(python), "-m", "pip", *args]
    return subprocess.run(command_line).returncode
