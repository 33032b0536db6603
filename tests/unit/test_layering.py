"""The layering of the core, read from the import statements (lazy imports inside functions included).

- ``nemo_gym/http`` never imports ``nemo_gym/runtime`` (ng_run's machinery);
- ``nemo_gym/config`` imports neither ``http`` nor ``runtime``;
- rollout collection (``nemo_gym/rollouts``, ``rollout_collection.py``) and ``config_types.py`` never import the CLI;
- server folders import only the public faces of ``nemo_gym`` (and their tests never ``runtime``, ``cli`` or
  ``http`` internals), so an environment written against them keeps working when the core moves inside.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "nemo_gym"
SERVER_FOLDERS = ("resources_servers", "responses_api_models", "responses_api_agents")

# The faces a server folder may import. chat_translation is the one Responses<->Chat conversion that model
# servers build on; errors holds the exceptions whose messages a user reads.
PUBLIC_FACES = (
    "nemo_gym.server_utils",
    "nemo_gym.openai_utils",
    "nemo_gym.base_resources_server",
    "nemo_gym.base_responses_api_model",
    "nemo_gym.base_responses_api_agent",
    "nemo_gym.config_types",
    "nemo_gym.global_config",
    "nemo_gym.chat_translation",
    "nemo_gym.errors",
)
NEVER_FROM_SERVER_TESTS = ("nemo_gym.runtime", "nemo_gym.cli", "nemo_gym.http")
# The one deliberate exception: the reference's ``rollout_collection.collect_rollouts()`` *is* the
# ng_collect_rollouts command, so it hands over to the CLI when called (a lazy import, never at import time).
ALLOWED = {("nemo_gym/rollout_collection.py", "nemo_gym.cli.rollouts")}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``path``; ``from a import b`` yields ``a.b`` too (b may be a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if any(within(module, package) for package in forbidden)
        and not any(within(module, allowed) for where, allowed in ALLOWED if path == ROOT / where)
    ]


def python_files(*parts: str) -> list[Path]:
    target = ROOT.joinpath(*parts)
    return [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))


def server_folder_files(tests: bool) -> list[Path]:
    files = [path for folder in SERVER_FOLDERS for path in python_files(folder)]
    return [path for path in files if ("tests" in path.relative_to(ROOT).parts) == tests]


def test_the_scan_sees_the_code_it_checks() -> None:
    # A rule over no files would pass for the wrong reason.
    assert len(python_files("nemo_gym", "http")) > 5 and len(python_files("nemo_gym", "config")) > 5
    assert len(server_folder_files(tests=False)) > 10 and len(server_folder_files(tests=True)) > 10
    found = {module for _, module in imported_modules(CORE / "http" / "server_base.py")}
    assert "nemo_gym.bootstrap.server_process" in found


def test_http_does_not_import_runtime() -> None:
    assert violations(python_files("nemo_gym", "http"), ("nemo_gym.runtime",)) == []


def test_config_imports_neither_http_nor_runtime() -> None:
    assert violations(python_files("nemo_gym", "config"), ("nemo_gym.http", "nemo_gym.runtime")) == []


@pytest.mark.parametrize("part", ["rollouts", "rollout_collection.py", "config_types.py"])
def test_rollout_collection_and_config_types_do_not_import_the_cli(part: str) -> None:
    assert violations(python_files("nemo_gym", part), ("nemo_gym.cli",)) == []


def test_server_folders_import_only_public_faces() -> None:
    problems = []
    for path in server_folder_files(tests=False):
        for line, module in imported_modules(path):
            if within(module, "nemo_gym") and module != "nemo_gym":
                if not any(within(module, face) for face in PUBLIC_FACES):
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert problems == []


def test_server_folder_tests_use_no_runtime_cli_or_http_internals() -> None:
    assert violations(server_folder_files(tests=True), NEVER_FROM_SERVER_TESTS) == []
