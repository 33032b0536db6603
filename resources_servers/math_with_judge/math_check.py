"""Math answer checking with HF math-verify, and the line-protocol loop that runs it in a helper process.

This module imports only the standard library and ``math_verify`` so that it can be started as a plain script
(``python math_check.py``) by a Ray worker: the worker keeps one such helper process alive, sends it one answer
at a time and kills it when an answer overruns its deadline (see ``answer_worker.py``).

Protocol (one JSON object per line): the helper first writes ``{"ready": true}``; then for every request line
``{"expected_answer": str, "generated_text": str}`` it writes ``{"reward": float, "extracted_answer": str|null,
"error": str|null}``.
"""

import contextlib
import io
import json
import logging
import os
import sys
from typing import Any

# math-verify's own signal-based timeouts (in seconds, integers because they use signal.alarm). They work in
# the helper's main thread and let one slow comparison give up while others still run; the hard per-answer
# deadline is enforced from outside by killing the helper.
PARSE_TIMEOUT_S = 5
COMPARE_TIMEOUT_S = 5
# Address-space cap of the helper process: a runaway sympy computation fails with MemoryError (scoring 0) instead
# of pushing the host into swap before the deadline kills it.
HELPER_MEMORY_LIMIT_BYTES = 4 * 1024**3


def _silence_math_verify_logging() -> None:
    for name in ("math_verify", "latex2sympy2_extended"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False


def check_answer(expected_answer: str, generated_text: str) -> tuple[float, str | None]:
    """Score ``generated_text`` against ``expected_answer``: (1.0 or 0.0, the extracted prediction or None).

    Gold is ``\\boxed{expected_answer}`` extracted as LaTeX; the prediction is extracted as a plain expression
    and as LaTeX. The extracted answer is the first prediction that verifies, otherwise the first prediction.
    Any exception (math-verify's ``TimeoutException`` is a BaseException, hence the broad catch) scores 0.
    """
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    _silence_math_verify_logging()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            gold = parse(
                "\\boxed{" + expected_answer + "}", [LatexExtractionConfig()], parsing_timeout=PARSE_TIMEOUT_S
            )
            predictions = parse(
                generated_text,
                [ExprExtractionConfig(), LatexExtractionConfig()],
                parsing_timeout=PARSE_TIMEOUT_S,
            )
            if not gold or not predictions:
                return 0.0, (str(predictions[0]) if predictions else None)
            for prediction in predictions:
                if verify(gold, prediction, timeout_seconds=COMPARE_TIMEOUT_S):
                    return 1.0, str(prediction)
            return 0.0, str(predictions[0])
    except BaseException as error:  # noqa: BLE001 - includes math-verify's TimeoutException
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        return 0.0, None


def _handle(line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
        expected_answer = str(request["expected_answer"])
        generated_text = str(request["generated_text"])
    except (ValueError, KeyError, TypeError) as error:
        return {"reward": 0.0, "extracted_answer": None, "error": f"bad request: {error}"}
    reward, extracted = check_answer(expected_answer, generated_text)
    return {"reward": reward, "extracted_answer": extracted, "error": None}


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this helper when the process that started it dies (a crashed Ray worker)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _limit_memory() -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = HELPER_MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(hard, HELPER_MEMORY_LIMIT_BYTES)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def serve_forever(parent_pid: int | None = None) -> None:
    """Answer requests from stdin until it closes. Replies go to the original stdout, everything else is muted."""
    _die_with_parent()
    _limit_memory()
    if parent_pid is not None and os.getppid() != parent_pid:
        return  # the parent died before the death signal was armed
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.dup2(devnull, sys.stderr.fileno())
    logging.disable(logging.CRITICAL)
    import math_verify  # noqa: F401 - pay the import cost before announcing readiness

    _silence_math_verify_logging()
    replies.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        if line.strip():
            replies.write(json.dumps(_handle(line)).encode() + b"\n")


if __name__ == "__main__":
    serve_forever(int(sys.argv[1]) if len(sys.argv) > 1 else None)
