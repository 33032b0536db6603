"""Test a server folder (``ng_test``, ``ng_test_all``): run its pytest suite and validate its example data."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import yaml
from pydantic import ValidationError

from nemo_gym.config.paths import SERVER_TYPES, repo_root
from nemo_gym.errors import NeMoGymError

EXAMPLE_ROWS = 5

# pytest exit codes (https://docs.pytest.org/en/stable/reference/exit-codes.html)
PYTEST_OK = 0
PYTEST_TESTS_FAILED = 1
PYTEST_NO_TESTS = 5


def check_module_path(entrypoint: str, server_types: tuple[str, ...] = SERVER_TYPES) -> PurePath:
    """``<server type>/<folder>`` as a relative two-part path, or a one-line error saying what is wrong."""
    path = PurePath(entrypoint.rstrip("/"))
    if path.is_absolute() or len(path.parts) != 2 or ".." in path.parts:
        raise NeMoGymError(
            f"+entrypoint must be a relative path with 2 parts, e.g. resources_servers/my_env (got {entrypoint!r})"
        )
    if path.parts[0] not in server_types:
        raise NeMoGymError(f"+entrypoint must start with one of {', '.join(server_types)} (got {entrypoint!r})")
    return path


def locate_module(entrypoint: str) -> Path:
    """The folder of a server module: relative to the working directory, else to the repository root."""
    path = check_module_path(entrypoint)
    for base in (Path.cwd(), repo_root()):
        if (base / path).is_dir():
            return (base / path).resolve()
    raise NeMoGymError(f"No server folder {entrypoint!r} in {Path.cwd()} or {repo_root()}")


def run_module_tests(folder: Path, pytest_args: list[str] | None = None) -> int:
    """Run the folder's tests with this interpreter's pytest, from inside the folder; returns pytest's exit code.

    ``PYTHONPATH`` holds the folder (its modules import as top-level names, as under ng_run) and the tree root that
    holds the server-type folders (so ``resources_servers.<name>.app`` imports, also for a tree outside this repo).
    """
    paths = [str(folder), str(folder.parent.parent)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    return subprocess.run([sys.executable, "-m", "pytest", *(pytest_args or [])], cwd=folder, env=env).returncode


def validate_example_data(folder: Path) -> list[str]:
    """Problems with a resources server's example data, one line each (empty when it is complete).

    The data is where the folder's config declares its ``example`` dataset (an alias folder such as
    library_judge_math shares another folder's data), else ``<folder>/data/example.jsonl``.
    """
    example = _declared_example_dataset(folder) or folder / "data" / "example.jsonl"
    data = example.parent
    name = folder.name
    problems: list[str] = []
    if not example.is_file():
        problems.append(f"{_shown(example)} is missing: write {EXAMPLE_ROWS} example rows")
    else:
        problems += _check_example_rows(example)
    metrics = data / "example_metrics.json"
    prepare_hint = (
        f'run `ng_prepare_data "+config_paths=[{_config_hint(folder)},'
        f'responses_api_models/openai_model/configs/openai_model.yaml]" +output_dirpath=data/{name} '
        "+mode=example_validation`"
    )
    if not metrics.is_file():
        problems.append(f"{_shown(metrics)} is missing: {prepare_hint}")
    else:
        try:
            count = json.loads(metrics.read_text()).get("Number of examples")
        except (json.JSONDecodeError, AttributeError):
            count = "unreadable"
        if count != EXAMPLE_ROWS:
            problems.append(
                f'{_shown(metrics)} has "Number of examples": {count} (expected {EXAMPLE_ROWS}); {prepare_hint}'
            )
    for conflict in sorted(data.glob("*conflict*")) if data.is_dir() else []:
        problems.append(f"{_shown(conflict)}: the metrics changed since they were written; resolve and delete it")
    rollouts = data / "example_rollouts.jsonl"
    rollouts_hint = (
        f'start the servers with `ng_run "+config_paths=[{_config_hint(folder)},'
        'responses_api_models/vllm_model/configs/vllm_model.yaml]"`, then run '
        f"`ng_collect_rollouts +agent_name={_agent_hint(folder)} "
        f"+input_jsonl_fpath={_shown(example)} +output_jsonl_fpath={_shown(rollouts)} +limit=null`"
    )
    if not rollouts.is_file():
        problems.append(f"{_shown(rollouts)} is missing: {rollouts_hint}")
    else:
        lines = _count_lines(rollouts)
        if lines != EXAMPLE_ROWS:
            problems.append(f"{_shown(rollouts)} has {lines} lines (expected {EXAMPLE_ROWS}); {rollouts_hint}")
    return problems


def _declared_example_dataset(folder: Path) -> Path | None:
    root = folder.parent.parent
    for config_file in _config_files(folder):
        try:
            config = yaml.safe_load(config_file.read_text()) or {}
        except yaml.YAMLError:
            continue
        for level_one in config.values():
            agents = level_one.get("responses_api_agents") if isinstance(level_one, dict) else None
            for fields in (agents or {}).values():
                for dataset in (fields or {}).get("datasets") or []:
                    if isinstance(dataset, dict) and dataset.get("type") == "example" and dataset.get("jsonl_fpath"):
                        return root / dataset["jsonl_fpath"]
    return None


def _check_example_rows(path: Path) -> list[str]:
    from nemo_gym.openai_utils import NeMoGymResponseCreateParamsNonStreaming

    problems: list[str] = []
    lines = path.read_text().splitlines()
    if len(lines) != EXAMPLE_ROWS:
        problems.append(f"{_shown(path)} has {len(lines)} lines (expected exactly {EXAMPLE_ROWS})")
    for number, line in enumerate(lines, start=1):
        where = f"{_shown(path)} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not valid JSON ({error.msg})")
            continue
        if not isinstance(row, dict) or "responses_create_params" not in row:
            problems.append(f"{where}: a row must be a JSON object with `responses_create_params`")
            continue
        try:
            NeMoGymResponseCreateParamsNonStreaming.model_validate(row["responses_create_params"])
        except ValidationError as error:
            first = error.errors()[0]
            field_path = ".".join(str(part) for part in first["loc"])
            problems.append(f"{where}: responses_create_params.{field_path}: {first['msg']}")
    return problems


def _count_lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for line in file if line.strip())


def _shown(path: Path) -> str:
    """A path inside a server folder as ``<type>/<name>/...`` (how users type it from the tree root)."""
    for parent in path.parents:
        if parent.name in SERVER_TYPES:
            return str(path.relative_to(parent.parent))
    return str(path)


def _config_files(folder: Path) -> list[Path]:
    configs = folder / "configs"
    return sorted(configs.glob("*.yaml")) if configs.is_dir() else []


def _config_hint(folder: Path) -> str:
    files = _config_files(folder)
    return _shown(files[0]) if files else f"{folder.parent.name}/{folder.name}/configs/{folder.name}.yaml"


def _agent_hint(folder: Path) -> str:
    """The agent instance whose datasets list this folder's example.jsonl (else the usual name)."""
    wanted = f"{folder.parent.name}/{folder.name}/data/example.jsonl"
    for config_file in _config_files(folder):
        try:
            config = yaml.safe_load(config_file.read_text()) or {}
        except yaml.YAMLError:
            continue
        for instance, level_one in config.items():
            agents = level_one.get("responses_api_agents") if isinstance(level_one, dict) else None
            for fields in (agents or {}).values():
                datasets = (fields or {}).get("datasets") or []
                if any(isinstance(d, dict) and str(d.get("jsonl_fpath", "")).endswith(wanted) for d in datasets):
                    return instance
    return f"{folder.name}_simple_agent"


# ---------------------------------------------------------------------------------------------- ng_test_all


@dataclass
class ModuleResult:
    module: str
    exit_code: int
    data_problems: list[str] | None = None  # None: not checked (not a resources server)

    @property
    def tests(self) -> str:
        if self.exit_code == PYTEST_OK:
            return "passed"
        if self.exit_code == PYTEST_NO_TESTS:
            return "missing"
        if self.exit_code == PYTEST_TESTS_FAILED:
            return "failed"
        return f"failed (exit {self.exit_code})"

    @property
    def data_ok(self) -> bool:
        return not self.data_problems


@dataclass
class TestAllSummary:
    __test__ = False  # not a pytest test class

    results: list[ModuleResult] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    def count(self, tests: str) -> int:
        return sum(1 for result in self.results if result.tests.startswith(tests))

    @property
    def data_failed(self) -> list[ModuleResult]:
        return [result for result in self.results if result.data_problems]

    @property
    def ok(self) -> bool:
        return all(result.exit_code == PYTEST_OK and result.data_ok for result in self.results)


def find_test_root() -> Path:
    """The working directory if it holds server folders, else the repository root."""
    cwd = Path.cwd()
    if any((cwd / server_type).is_dir() for server_type in SERVER_TYPES):
        return cwd
    return repo_root()


def module_candidates(root: Path) -> tuple[list[str], list[str]]:
    """(every server folder, the ones with a README.md that ng_test_all tests), as ``type/name``."""
    candidates = []
    for server_type in SERVER_TYPES:
        base = root / server_type
        if base.is_dir():
            candidates += [
                f"{server_type}/{child.name}"
                for child in sorted(base.iterdir())
                if child.is_dir() and not child.name.startswith((".", "_")) and "pycache" not in child.name
            ]
    tested = [module for module in candidates if (root / module / "README.md").is_file()]
    return candidates, tested
