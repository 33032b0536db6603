"""The Ray task that checks one math answer under a hard deadline.

math-verify can spend unbounded time in sympy (``9^{9^{9^{9}}}``), and its own ``signal.alarm`` timeouts only
work in a main thread and cannot interrupt long C-level work. So each Ray worker keeps one helper process
running ``math_check.py`` and sends it one answer at a time; if the answer is not back before the deadline the
helper is killed (scoring 0) and a fresh one is started for the next answer. The helper's start-up (importing
math-verify, about a second) is not charged to any answer.
"""

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import ray

logger = logging.getLogger(__name__)

HELPER_SCRIPT = Path(__file__).resolve().with_name("math_check.py")
HELPER_STARTUP_TIMEOUT_S = 120.0


@dataclass
class AnswerCheck:
    reward: float
    extracted_answer: str | None
    # "ok", "timeout" (the helper was killed at the deadline) or "error" (the helper failed)
    status: str
    seconds: float


class HelperCrashed(RuntimeError):
    pass


class MathCheckHelper:
    """One long-lived ``math_check.py`` process, used by one thread at a time."""

    def __init__(self, startup_timeout_s: float = HELPER_STARTUP_TIMEOUT_S) -> None:
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(HELPER_SCRIPT), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        self._process = process
        self._buffer = b""
        reply = self._read_line(time.monotonic() + self._startup_timeout_s)
        if reply is None or not json.loads(reply).get("ready"):
            self.stop()
            raise HelperCrashed(f"math_check helper did not become ready within {self._startup_timeout_s}s")
        return process

    def _read_line(self, deadline: float) -> bytes | None:
        """The next reply line, or None if the deadline passed first. Raises HelperCrashed on EOF."""
        process = self._process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise HelperCrashed(f"math_check helper exited with code {process.poll()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def check(self, expected_answer: str, generated_text: str, timeout_s: float) -> AnswerCheck:
        with self._lock:
            process = self._process if self._process is not None and self._process.poll() is None else None
            if process is None:
                self.stop()
                process = self._start()
            started = time.monotonic()
            request = json.dumps({"expected_answer": expected_answer, "generated_text": generated_text})
            try:
                assert process.stdin is not None
                process.stdin.write(request.encode() + b"\n")
                process.stdin.flush()
                line = self._read_line(started + timeout_s)
            except (HelperCrashed, BrokenPipeError) as error:
                self.stop()
                logger.warning("math_check helper failed: %s", error)
                return AnswerCheck(0.0, None, "error", time.monotonic() - started)
            if line is None:
                # Over the deadline: the helper may be stuck in C code, so only a kill is certain to stop it.
                self.stop()
                return AnswerCheck(0.0, None, "timeout", time.monotonic() - started)
            reply = json.loads(line)
            status = "ok" if reply.get("error") is None else "error"
            return AnswerCheck(
                float(reply["reward"]), reply.get("extracted_answer"), status, time.monotonic() - started
            )


# One helper per process that runs the task (a Ray worker executes one task at a time).
_helper: MathCheckHelper | None = None
_helper_lock = threading.Lock()


def _process_helper() -> MathCheckHelper:
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = MathCheckHelper()
        return _helper


def check_answers_with_deadline(batch: list[tuple[str, str]], timeout_s: float) -> list[AnswerCheck]:
    """Check several answers in one task (each under its own deadline): one Ray round trip for the batch."""
    helper = _process_helper()
    return [helper.check(expected_answer, generated_text, timeout_s) for expected_answer, generated_text in batch]


check_answers_remote = ray.remote(scheduling_strategy="SPREAD")(check_answers_with_deadline)
