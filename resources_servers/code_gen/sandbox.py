"""Run model-written Python in a fresh, confined interpreter and collect what it printed.

Each run is ``python -I launcher.py`` in a private temporary working directory, in its own session (so the
whole process group can be killed), with a minimal environment, stdin/stdout/stderr on unlinked temporary
files (output size is capped by RLIMIT_FSIZE, so a print loop cannot fill the caller's memory), and:

- when the server runs as root, the user ``nobody`` if it can run the interpreter (with RLIMIT_NPROC against
  fork bombs);
- RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE and no core dumps, set by the launcher on itself;
- new user and network namespaces where the kernel allows it (no network at all), otherwise best effort;
- a wall-clock deadline after which the process group is SIGKILLed.

This confines honest mistakes and casual misuse (infinite loops, memory hogs, stray network calls); it is not
a security boundary against hostile code, which still runs on this host with the kernel's full attack surface.
"""

import functools
import json
import logging
import math
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from resources_servers.code_gen.launcher import LAUNCHER_ERROR_EXIT

logger = logging.getLogger(__name__)

__all__ = [
    "LAUNCHER_ERROR_EXIT",
    "ProcessOutcome",
    "SandboxCapabilities",
    "SandboxLimits",
    "SOLUTION_FILE",
    "prepare_workdir",
    "run_launcher",
    "sandbox_capabilities",
]

LAUNCHER = Path(__file__).resolve().with_name("launcher.py")
# Interpreter start-up is not the solution's fault; it gets this much extra wall time on top of the limit.
STARTUP_GRACE_S = 1.0
SOLUTION_FILE = "solution.py"
# Processes and threads the unprivileged sandbox user may have at once (all concurrent sandboxes together).
MAX_PROCESSES = 512


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_output_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class ProcessOutcome:
    timed_out: bool
    # Negative for "killed by signal N", as in subprocess.
    returncode: int | None
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def killed_by(self) -> int | None:
        return -self.returncode if self.returncode is not None and self.returncode < 0 else None


@dataclass(frozen=True)
class SandboxCapabilities:
    """What confinement this host allows, probed once per process (see ``sandbox_capabilities``)."""

    # The Python that runs programs (and the launcher).
    interpreter: str
    # (uid, gid) the program runs as, or None for "as this process's user".
    run_as: tuple[int, int] | None
    network_isolated: bool


def _nobody() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def prepare_workdir(workdir: Path, capabilities: SandboxCapabilities) -> None:
    """Let the (possibly unprivileged) sandbox user write in its working directory."""
    if capabilities.run_as is not None:
        os.chown(workdir, *capabilities.run_as)


def _minimal_env(workdir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        # Numeric libraries would otherwise start one thread per core, each reserving address space.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _read_capped(handle: IO[bytes], limit: int) -> str:
    handle.seek(0)
    return handle.read(limit).decode("utf-8", errors="replace")


def run_launcher(
    workdir: Path,
    mode: Literal["stdin", "call", "probe"],
    stdin_text: str,
    limits: SandboxLimits,
    capabilities: SandboxCapabilities,
    fn_name: str | None = None,
) -> ProcessOutcome:
    """Run the launcher once in ``workdir`` (prepared with ``prepare_workdir``; holding ``solution.py``)."""
    settings = {
        "mode": mode,
        "fn_name": fn_name,
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "cpu_seconds": max(1, math.ceil(limits.timeout_s)),
        "file_size_bytes": limits.max_output_bytes,
        "isolate_network": True,
        "run_as": capabilities.run_as,
        "max_processes": MAX_PROCESSES if capabilities.run_as is not None else None,
    }
    with (
        tempfile.TemporaryFile() as stdin_file,
        tempfile.TemporaryFile() as stdout_file,
        tempfile.TemporaryFile() as stderr_file,
    ):
        stdin_file.write(stdin_text.encode())
        stdin_file.seek(0)
        started = time.monotonic()
        process = subprocess.Popen(
            [capabilities.interpreter, "-I", str(LAUNCHER), json.dumps(settings)],
            cwd=workdir,
            stdin=stdin_file,
            stdout=stdout_file,
            stderr=stderr_file,
            env=_minimal_env(workdir),
            start_new_session=True,
            close_fds=True,
        )
        timed_out = False
        try:
            process.wait(timeout=limits.timeout_s + STARTUP_GRACE_S)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Also reaps anything the solution forked into its process group.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        elapsed = time.monotonic() - started
        return ProcessOutcome(
            timed_out=timed_out,
            returncode=None if timed_out else process.returncode,
            stdout=_read_capped(stdout_file, limits.max_output_bytes),
            stderr=_read_capped(stderr_file, 64 * 1024),
            elapsed_s=elapsed,
        )


def _probe(interpreter: str, run_as: tuple[int, int] | None) -> SandboxCapabilities | None:
    """Run the launcher's probe with ``run_as``; None if a program could not run that way at all."""
    candidate = SandboxCapabilities(interpreter=interpreter, run_as=run_as, network_isolated=False)
    with tempfile.TemporaryDirectory(prefix="code_gen_probe_") as workdir:
        prepare_workdir(Path(workdir), candidate)
        outcome = run_launcher(Path(workdir), "probe", "", SandboxLimits(timeout_s=30), candidate)
    try:
        reply = json.loads(outcome.stdout)
        isolated = bool(reply["isolated"]) and reply["net_namespace"] != os.readlink("/proc/self/ns/net")
    except (ValueError, KeyError, TypeError, OSError):
        logger.info("Sandbox probe as %s failed: %s", run_as or "this user", outcome.stderr.strip()[-300:])
        return None
    return SandboxCapabilities(interpreter=interpreter, run_as=run_as, network_isolated=isolated)


@functools.cache
def sandbox_capabilities(interpreter: str | None = None) -> SandboxCapabilities:
    """The strongest confinement that works here for ``interpreter`` (default: this one), checked once.

    As root, programs should run as ``nobody``; that fails when the interpreter itself is not readable by
    ``nobody`` (for example a Python installed under /root), and then they run as root, with a warning.
    """
    interpreter = interpreter or sys.executable
    candidates: list[tuple[int, int] | None] = [_nobody(), None] if os.geteuid() == 0 else [None]
    probes = (_probe(interpreter, run_as) for run_as in candidates)
    capabilities = next((found for found in probes if found is not None), None)
    if capabilities is None:
        raise RuntimeError(f"the code sandbox cannot run programs with {interpreter} (its probe failed; see the log)")
    if os.geteuid() == 0 and capabilities.run_as is None:
        logger.warning(
            "Model-written code runs as root: the user 'nobody' cannot run %s (choose an interpreter that it "
            "can read, e.g. with the code_gen setting python_executable)",
            interpreter,
        )
    if not capabilities.network_isolated:
        logger.warning(
            "Network namespaces are not available here; model-written code runs without network isolation "
            "(other limits still apply)"
        )
    return capabilities
