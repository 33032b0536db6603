"""Grading in the sandbox, without Ray: every outcome a submission can have."""

import os
from pathlib import Path

import pytest

from resources_servers.code_gen.sandbox import sandbox_capabilities
from resources_servers.code_gen.unit_tests import (
    NO_RESULT,
    PASSED,
    RUNTIME_ERROR,
    TIME_LIMIT_EXCEEDED,
    WRONG_ANSWER,
    call_result_matches,
    check_correctness,
    stdout_matches,
)

SUM_TESTS = {"inputs": ["1 2\n", "10 -4\n"], "outputs": ["3\n", "6\n"], "fn_name": None}
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
SUM_PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.mark.parametrize(
    ("actual", "expected", "match"),
    [
        ("3\n", "3", True),
        ("  1 2  \n3\n\n", "1 2\n3", True),
        ("1.50\n", "1.5\n", True),
        ("0.1 2\n", "0.10 2.0", True),
        ("1.5000001", "1.5", False),
        ("3\n4", "3", False),
        ("yes", "YES", False),
    ],
)
def test_stdout_comparison(actual: str, expected: str, match: bool) -> None:
    assert stdout_matches(actual, expected) is match


def test_call_result_comparison() -> None:
    assert call_result_matches([1, 2], "[1, 2]")
    assert call_result_matches(7, "[7]")
    assert not call_result_matches([1, 2], "[2, 1]")
    assert not call_result_matches(1, "not json")


def test_correct_program_passes_every_test() -> None:
    results, metadata = check_correctness(SUM_TESTS, SUM_PROGRAM, timeout_s=5)
    assert results == [PASSED, PASSED]
    assert "error" not in metadata


def test_wrong_program_stops_at_the_first_failing_test() -> None:
    program = "a, b = map(int, input().split())\nprint(a + b if a == 1 else 0)\n"
    results, metadata = check_correctness(SUM_TESTS, program, timeout_s=5)
    assert results == [PASSED, WRONG_ANSWER]
    assert (metadata["test_index"], metadata["expected"], metadata["output"]) == (1, "6\n", "0\n")


def test_infinite_loop_hits_the_time_limit() -> None:
    results, metadata = check_correctness(SUM_TESTS, "while True:\n    pass\n", timeout_s=1)
    assert results == [TIME_LIMIT_EXCEEDED]
    assert metadata["error_message"] == "Time Limit Exceeded"
    assert metadata["execution_time"] < 4


def test_sleeping_program_hits_the_wall_clock_limit() -> None:
    results, _ = check_correctness(SUM_TESTS, "import time\ntime.sleep(60)\n", timeout_s=1)
    assert results == [TIME_LIMIT_EXCEEDED]


def test_memory_hog_is_stopped_by_the_memory_limit() -> None:
    program = "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 * 1024))\n"
    results, metadata = check_correctness(SUM_TESTS, program, timeout_s=10, memory_mb=256)
    assert results == [RUNTIME_ERROR]
    assert "MemoryError" in metadata["error"]


def test_syntax_error_is_a_runtime_error() -> None:
    results, metadata = check_correctness(SUM_TESTS, "print((\n", timeout_s=5)
    assert results == [RUNTIME_ERROR]
    assert "SyntaxError" in metadata["error"]


def test_endless_output_is_capped() -> None:
    results, metadata = check_correctness(SUM_TESTS, "while True:\n    print('x' * 1000)\n", timeout_s=5)
    assert results == [RUNTIME_ERROR]
    assert "File too large" in metadata["error"]


def test_the_network_is_unreachable_when_isolation_is_available() -> None:
    program = (
        "import socket\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=2)\n    print('connected')\n"
        "except OSError as error:\n    print('blocked', error.errno)\n"
    )
    results, metadata = check_correctness({"inputs": [""], "outputs": ["connected"]}, program, timeout_s=5)
    if not metadata["network_isolated"]:
        pytest.skip("network namespaces are not available on this host")
    assert results == [WRONG_ANSWER]
    assert metadata["output"].startswith("blocked")


def test_the_program_sees_stdin_as_a_real_file_and_runs_as_main() -> None:
    program = (
        "import sys\n"
        "def main():\n    data = sys.stdin.buffer.read().split()\n    print(sum(map(int, data)))\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    assert check_correctness(SUM_TESTS, program, timeout_s=5)[0] == [PASSED, PASSED]


def test_the_working_directory_is_private_and_empty_apart_from_the_solution() -> None:
    program = "import os\nprint(sorted(os.listdir('.')))\n"
    results, _ = check_correctness({"inputs": [""], "outputs": ["['solution.py']"]}, program, timeout_s=5)
    assert results == [PASSED]


def test_as_root_the_program_runs_as_nobody_when_the_interpreter_allows_it() -> None:
    if os.geteuid() != 0:
        pytest.skip("privileges are only dropped when the server runs as root")
    interpreter = next((path for path in SYSTEM_PYTHONS if _readable_by_everyone(path)), None)
    if interpreter is None:
        pytest.skip("no interpreter that the user 'nobody' can run")
    program = (
        "import os\nopen('scratch.txt', 'w').write('ok')\nprint(os.getuid() != 0, open('scratch.txt').read())\n"
        "try:\n    open('/etc/code_gen_sandbox_probe', 'w')\n    print('wrote /etc')\n"
        "except OSError as error:\n    print(type(error).__name__)\n"
    )
    tests = {"inputs": [""], "outputs": ["True ok\nPermissionError"]}
    results, metadata = check_correctness(tests, program, timeout_s=5, python_executable=interpreter)
    assert results == [PASSED], metadata
    assert sandbox_capabilities(interpreter).run_as is not None


def _readable_by_everyone(path: str) -> bool:
    """Whether every directory up to the real file of ``path`` is world-searchable (as ``nobody`` needs)."""
    real = Path(path).resolve()
    if not real.exists():
        return False
    return all(parent.stat().st_mode & 0o005 == 0o005 for parent in real.parents)


def test_a_fork_bomb_is_contained() -> None:
    program = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    results, _ = check_correctness(SUM_TESTS, program, timeout_s=1)
    assert results in ([TIME_LIMIT_EXCEEDED], [RUNTIME_ERROR])
    assert check_correctness(SUM_TESTS, SUM_PROGRAM, timeout_s=5)[0] == [PASSED, PASSED]  # the host still works


def test_call_mode_uses_class_solution_and_json_arguments() -> None:
    tests = {"inputs": ["[1, 2, 3]\n2", "[]\n5"], "outputs": ["[2, 4, 6]", "[]"], "fn_name": "scale"}
    program = (
        "class Solution:\n    def scale(self, values, factor):\n"
        "        print('debug output is ignored')\n        return tuple(v * factor for v in values)\n"
    )
    assert check_correctness(tests, program, timeout_s=5)[0] == [PASSED, PASSED]
    wrong = "def scale(values, factor):\n    return values\n"
    assert check_correctness(tests, wrong, timeout_s=5)[0] == [WRONG_ANSWER]


@pytest.mark.parametrize(
    "unit_tests",
    [None, {"inputs": ["1"]}, {"inputs": ["1"], "outputs": []}, {"inputs": [], "outputs": []}, "not json"],
)
def test_malformed_unit_tests_give_no_result(unit_tests: object) -> None:
    results, metadata = check_correctness(unit_tests, SUM_PROGRAM, timeout_s=5)
    assert results == [NO_RESULT]
    assert metadata["error"].startswith("unparsable unit tests")
