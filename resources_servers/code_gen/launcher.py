"""Runs inside the sandboxed interpreter (``python -I launcher.py '<json settings>'``), before any model code.

It confines its own process (a fresh, single-threaded interpreter, so nothing here races with other threads as
a ``preexec_fn`` in a multi-threaded Ray worker would), then runs ``solution.py`` from the working directory:

- ``mode == "stdin"``: as ``__main__``, with the test input on stdin and its stdout compared by the caller.
- ``mode == "call"``: imports it, calls ``Solution().<fn_name>`` (or a top-level ``<fn_name>``) with one
  JSON-decoded argument per stdin line, and writes ``{"result": ...}`` as JSON to the original stdout; anything
  the solution prints is discarded.
- ``mode == "probe"``: imports a few standard modules (can this user run this interpreter?) and prints whether
  the network is isolated and this process's network namespace (used once by the parent).

Only the standard library is used. Exit code ``LAUNCHER_ERROR_EXIT`` means the launcher itself failed.
"""

import importlib
import json
import os
import resource
import runpy
import sys

LAUNCHER_ERROR_EXIT = 121
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def drop_privileges(uid: int, gid: int) -> None:
    """Become an unprivileged user (when the server runs as root), so the program cannot write root's files."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def isolate_network() -> bool:
    """Move into new user and network namespaces: only a loopback interface, which is down. Best effort."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


def apply_limits(settings: dict) -> None:
    cpu_seconds = int(settings["cpu_seconds"])
    limits = {
        resource.RLIMIT_AS: int(settings["memory_bytes"]),
        resource.RLIMIT_CPU: (cpu_seconds, cpu_seconds + 1),
        resource.RLIMIT_FSIZE: int(settings["file_size_bytes"]),
        resource.RLIMIT_CORE: 0,
    }
    if settings.get("max_processes"):
        # Counts every process and thread of the user, so it is only set for the dedicated unprivileged user.
        limits[resource.RLIMIT_NPROC] = int(settings["max_processes"])
    for which, value in limits.items():
        soft, hard = value if isinstance(value, tuple) else (value, value)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))


def run_stdin_mode() -> None:
    sys.argv = ["solution.py"]
    runpy.run_path("solution.py", run_name="__main__")


def run_call_mode(fn_name: str) -> None:
    arguments = [json.loads(line) for line in sys.stdin.read().splitlines() if line.strip()]
    # Keep the real stdout for the result; the solution's own prints go nowhere.
    result_stream = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.argv = ["solution.py"]
    namespace = runpy.run_path("solution.py", run_name="solution")
    if "Solution" in namespace:
        function = getattr(namespace["Solution"](), fn_name)
    elif fn_name in namespace:
        function = namespace[fn_name]
    else:
        raise NameError(f"the solution defines neither class Solution nor a function named {fn_name!r}")
    result = function(*arguments)
    sys.stdout.flush()
    result_stream.write(json.dumps({"result": result}, default=repr))
    result_stream.flush()


def main() -> None:
    try:
        settings = json.loads(sys.argv[1])
        mode = settings["mode"]
        if settings.get("run_as") is not None:
            drop_privileges(*settings["run_as"])
        isolated = isolate_network() if settings.get("isolate_network", True) else False
        apply_limits(settings)
    except Exception as error:  # noqa: BLE001 - report any launcher failure distinctly from the solution's
        sys.stderr.write(f"sandbox launcher failed: {type(error).__name__}: {error}\n")
        sys.exit(LAUNCHER_ERROR_EXIT)
    if mode == "probe":
        for name in ("decimal", "fractions", "heapq"):  # fresh standard-library imports as the sandbox user
            importlib.import_module(name)
        print(json.dumps({"isolated": isolated, "net_namespace": os.readlink("/proc/self/ns/net")}))
    elif mode == "stdin":
        run_stdin_mode()
    elif mode == "call":
        run_call_mode(settings["fn_name"])
    else:
        sys.stderr.write(f"sandbox launcher failed: unknown mode {mode!r}\n")
        sys.exit(LAUNCHER_ERROR_EXIT)


if __name__ == "__main__":
    main()
