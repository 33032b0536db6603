"""Child processes that never outlive ng_run: own process group plus a parent-death signal."""

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1

try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not Linux: rely on process groups and explicit shutdown
    _libc = None


def child_preexec() -> None:
    """Runs in the child between fork and exec: new process group, SIGTERM when the parent dies."""
    os.setpgid(0, 0)
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
