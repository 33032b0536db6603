"""Grade a program against its unit tests, one sandboxed interpreter per test, and the Ray task that does it.

Result codes per test, as in the reference: ``True`` passed, ``-1`` no result (unparsable tests or the whole
task lost), ``-2`` wrong answer, ``-3`` time limit exceeded, ``-4`` runtime or compile error (including memory
and output limits), ``-5`` the runner itself failed. Grading stops at the first failing test.
"""

import json
import logging
import signal
import tempfile
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import ray

from resources_servers.code_gen.sandbox import (
    LAUNCHER_ERROR_EXIT,
    SOLUTION_FILE,
    ProcessOutcome,
    SandboxLimits,
    prepare_workdir,
    run_launcher,
    sandbox_capabilities,
)

logger = logging.getLogger(__name__)

PASSED = True
NO_RESULT = -1
WRONG_ANSWER = -2
TIME_LIMIT_EXCEEDED = -3
RUNTIME_ERROR = -4
RUNNER_ERROR = -5
ERROR_MESSAGES = {
    NO_RESULT: "No Result",
    WRONG_ANSWER: "Wrong Answer",
    TIME_LIMIT_EXCEEDED: "Time Limit Exceeded",
    RUNTIME_ERROR: "Runtime Error",
    RUNNER_ERROR: "Runner Error",
}
TRUNCATE_CHARS = 300
TestResult = bool | int


def _truncate(text: str) -> str:
    return text if len(text) <= TRUNCATE_CHARS else text[:TRUNCATE_CHARS] + "...(truncated)"


def _tokens_equal(actual: str, expected: str) -> bool:
    """Whitespace-separated tokens equal as strings or, failing that, as exact decimals ("1.50" == "1.5")."""
    actual_tokens, expected_tokens = actual.split(), expected.split()
    if len(actual_tokens) != len(expected_tokens):
        return False
    for got, want in zip(actual_tokens, expected_tokens, strict=True):
        if got == want:
            continue
        try:
            if Decimal(got) != Decimal(want):
                return False
        except InvalidOperation:
            return False
    return True


def stdout_matches(actual: str, expected: str) -> bool:
    """Same number of lines after stripping the whole output; each stripped line equal, exactly or as decimals."""
    actual_lines = [line.strip() for line in actual.strip().splitlines()]
    expected_lines = [line.strip() for line in expected.strip().splitlines()]
    if len(actual_lines) != len(expected_lines):
        return False
    return all(got == want or _tokens_equal(got, want) for got, want in zip(actual_lines, expected_lines, strict=True))


def call_result_matches(actual: Any, expected_json: str) -> bool:
    """``actual`` (already JSON round-tripped, so tuples are lists) equals the decoded expected value.

    Call-based datasets sometimes wrap the return value in a one-element list; that form is accepted too.
    """
    try:
        expected = json.loads(expected_json)
    except ValueError:
        return False
    return actual == expected or (isinstance(expected, list) and len(expected) == 1 and actual == expected[0])


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(line) for line in value)
    return str(value)


def parse_unit_tests(unit_tests: Any) -> tuple[list[str], list[str], str | None]:
    """``{"inputs": [...], "outputs": [...], "fn_name": str | None}`` (or its JSON text); ValueError if malformed."""
    if isinstance(unit_tests, str):
        unit_tests = json.loads(unit_tests)
    if not isinstance(unit_tests, dict):
        raise ValueError("unit_tests must be an object with inputs and outputs")
    inputs, outputs = unit_tests.get("inputs"), unit_tests.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise ValueError("unit_tests.inputs and unit_tests.outputs must be lists")
    if len(inputs) != len(outputs):
        raise ValueError(f"unit_tests has {len(inputs)} inputs but {len(outputs)} outputs")
    if not inputs:
        raise ValueError("unit_tests has no test cases")
    fn_name = unit_tests.get("fn_name") or None
    return [_as_text(value) for value in inputs], [_as_text(value) for value in outputs], fn_name


def _classify(outcome: ProcessOutcome, expected: str, fn_name: str | None) -> tuple[TestResult, str, str]:
    """(result code, short error, the program's output for the report)."""
    if outcome.timed_out or outcome.killed_by in (signal.SIGXCPU, signal.SIGKILL):
        return TIME_LIMIT_EXCEEDED, "time limit exceeded", outcome.stdout
    if outcome.returncode == LAUNCHER_ERROR_EXIT and outcome.stderr.startswith("sandbox launcher failed"):
        return RUNNER_ERROR, outcome.stderr.strip(), outcome.stdout
    if outcome.killed_by == signal.SIGXFSZ:
        return RUNTIME_ERROR, "output limit exceeded", outcome.stdout
    if outcome.returncode != 0:
        last_line = outcome.stderr.strip().splitlines()[-1:] or [f"exit code {outcome.returncode}"]
        return RUNTIME_ERROR, last_line[0], outcome.stdout
    if fn_name is None:
        return (PASSED if stdout_matches(outcome.stdout, expected) else WRONG_ANSWER), "", outcome.stdout
    try:
        actual = json.loads(outcome.stdout)["result"]
    except (ValueError, KeyError, TypeError):
        return RUNNER_ERROR, "the call harness produced no result", outcome.stdout
    return (PASSED if call_result_matches(actual, expected) else WRONG_ANSWER), "", json.dumps(actual)


def check_correctness(
    unit_tests: Any,
    code: str,
    timeout_s: float,
    memory_mb: int = 1024,
    debug: bool = False,
    python_executable: str | None = None,
) -> tuple[list[TestResult], dict[str, Any]]:
    """Run ``code`` on every test in order, stopping at the first failure: (results, metadata).

    ``python_executable`` runs the programs (default: this process's interpreter).
    """
    try:
        inputs, outputs, fn_name = parse_unit_tests(unit_tests)
    except (ValueError, TypeError) as error:
        return [NO_RESULT], {"error": f"unparsable unit tests: {error}", "error_code": NO_RESULT}
    limits = SandboxLimits(timeout_s=timeout_s, memory_mb=memory_mb)
    try:
        capabilities = sandbox_capabilities(python_executable)
    except (RuntimeError, OSError) as error:
        return [RUNNER_ERROR], {"error": str(error), "error_code": RUNNER_ERROR}
    metadata: dict[str, Any] = {"network_isolated": capabilities.network_isolated}
    results: list[TestResult] = []
    total_time = 0.0
    started = time.monotonic()
    # The program may leave files it made unremovable (chmod 000); that must not fail the grading.
    with tempfile.TemporaryDirectory(prefix="code_gen_", ignore_cleanup_errors=True) as workdir:
        prepare_workdir(Path(workdir), capabilities)
        (Path(workdir) / SOLUTION_FILE).write_text(code)
        for index, (test_input, expected) in enumerate(zip(inputs, outputs, strict=True)):
            try:
                outcome = run_launcher(
                    Path(workdir), "call" if fn_name else "stdin", test_input, limits, capabilities, fn_name
                )
            except OSError as error:
                results.append(RUNNER_ERROR)
                metadata.update(error=f"could not start the sandbox: {error}", error_code=RUNNER_ERROR)
                break
            total_time += outcome.elapsed_s
            result, error, shown_output = _classify(outcome, expected, fn_name)
            results.append(result)
            if debug:
                logger.info(
                    "test %d: %s in %.2fs; stderr: %s", index, result, outcome.elapsed_s, outcome.stderr[-500:]
                )
            if result is not PASSED:
                metadata.update(
                    error=error,
                    error_code=result,
                    error_message=ERROR_MESSAGES[result],
                    test_index=index,
                    inputs=_truncate(test_input),
                    expected=_truncate(expected),
                    output=_truncate(shown_output),
                )
                if debug:
                    metadata["stderr"] = outcome.stderr[-4000:]
                break
    metadata["execution_time"] = total_time
    metadata["wall_time"] = time.monotonic() - started
    return results, metadata


check_correctness_remote = ray.remote(scheduling_strategy="SPREAD")(check_correctness)
