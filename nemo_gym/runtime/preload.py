"""Server processes forked from one that has already imported the libraries every server imports.

Every server spends over a second of CPU importing the same libraries (the ``openai`` SDK's types alone take
most of a second, then FastAPI, aiohttp, uvicorn) before it runs a line of its own; with several servers on two
cores, that is most of ng_run's start-up. ng_run therefore starts one *preloader* first: a fresh interpreter that
imports those libraries, then forks each server on request. A forked server runs its ``app.py`` as
``python app.py`` would — as ``__main__``, in its folder, with its own environment, arguments and ``sys.path``,
its output on a pipe of ng_run's, in a process group of its own, stopped when its parent goes — but without the
imports, and it shares the imported libraries' memory pages with the other servers.

The preloader imports libraries that read nothing from the environment when imported (never ``ray``; of
``nemo_gym`` only the server base classes, checked by ``tests/integration/test_preload.py``), so nothing in it
depends on a server's environment. It stays up while the run lasts: it is the servers' parent and reaps them, and it
reports each exit to ng_run, which sees a forked server as a :class:`ForkedProcess` (the part of
``subprocess.Popen`` the supervisor uses). A server that runs under another interpreter (an isolated
environment) is started with ``subprocess.Popen`` as before, and so is every server when the preloader cannot
start; ``preload_servers: false`` in the config turns the preloader off.
"""

import ctypes
import gc
import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

PRELOADED_MODULES = (
    "openai",
    "fastapi",
    "fastapi.routing",
    "starlette.middleware.errors",
    "pydantic",
    "aiohttp",
    "uvicorn",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
    "uvloop",
    "httptools",
    "orjson",
    "yaml",
    "omegaconf",
    "itsdangerous",
    # the core's server classes: type definitions and routes, nothing read from the environment at import
    "nemo_gym.base_resources_server",
    "nemo_gym.base_responses_api_agent",
    "nemo_gym.base_responses_api_model",
    "nemo_gym.chat_translation",
)
_HEADER = struct.Struct("!I")
# room in the preloader's command line for a forked server's own (``ps`` shows the server's `python app.py`)
TITLE_ROOM = "-" * 160
READY_TIMEOUT_S = 60.0


# ---- ng_run's side ----------------------------------------------------------------------------------------------
class ForkedProcess:
    """A server forked by the preloader, with the ``subprocess.Popen`` methods the supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = None  # the read end of the pipe the server writes its output to
        self.returncode: int | None = None
        self._exited = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _set_exited(self, code: int) -> None:
        self.returncode = code
        self._exited.set()


_early: "Preloader | None" = None


def start_early() -> None:
    """Start the preloader now, for the next :class:`Supervisor` to adopt (ng_run calls this before its own
    imports, so that both import at once); nothing happens for ``help``."""
    global _early
    if _early is None and not any("help" in arg or arg.startswith("+h=") for arg in sys.argv[1:]):
        try:
            _early = Preloader()
        except OSError:
            pass


def adopt_early() -> "Preloader | None":
    """The preloader :func:`start_early` started, if any (once)."""
    global _early
    preloader, _early = _early, None
    return preloader


class Preloader:
    """ng_run's handle on the preloader process: :meth:`spawn` forks a server from it."""

    def __init__(self) -> None:
        from nemo_gym.runtime.process_utils import child_preexec

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket = ours
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nemo_gym.runtime.preload", str(theirs.fileno()), TITLE_ROOM],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            preexec_fn=child_preexec,
        )
        theirs.close()
        self._lock = threading.Lock()  # one request at a time on the socket
        self._children: dict[int, ForkedProcess] = {}
        self._replies: dict[int, dict[str, Any]] = {}
        self._replied = threading.Condition()
        self._closed = False
        self._next_id = 0
        self._reader = threading.Thread(target=self._read_reports, name="preloader-reports", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str]) -> ForkedProcess:
        """Fork ``python argv...`` in ``cwd`` with ``env``; raises ``OSError`` if the preloader cannot."""
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                self._next_id += 1
                request_id = self._next_id
                payload = json.dumps({"id": request_id, "argv": argv, "cwd": str(cwd), "env": env}).encode()
                socket.send_fds(self._socket, [_HEADER.pack(len(payload))], [write_end])
                self._socket.sendall(payload)
            os.close(write_end)
            write_end = -1
            reply = self._reply(request_id)
            if "pid" not in reply:
                raise OSError(f"the preloader could not start {argv[0]}: {reply.get('error')}")
        except BaseException:
            os.close(read_end)
            raise
        finally:
            if write_end >= 0:
                os.close(write_end)
        child = self._children[reply["pid"]]
        child.stdout = os.fdopen(read_end, "rb")
        return child

    def _reply(self, request_id: int) -> dict[str, Any]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with self._replied:
            while request_id not in self._replies:
                if self._closed or time.monotonic() > deadline:
                    raise OSError("the preloader stopped answering")
                self._replied.wait(0.2)
            return self._replies.pop(request_id)

    def _read_reports(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._socket.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._handle(json.loads(line))
        except OSError:
            pass
        with self._replied:
            self._closed = True
            self._replied.notify_all()
        for child in list(self._children.values()):
            if child.returncode is None:  # the preloader is gone, and with it (death signal) its children
                child._set_exited(-signal.SIGKILL)

    def _handle(self, report: dict[str, Any]) -> None:
        if "exited" in report:
            child = self._children.get(report["exited"])
            if child is not None:
                child._set_exited(report["code"])
            return
        if "pid" in report:  # registered before its exit can be reported (the reports come in order)
            self._children[report["pid"]] = ForkedProcess(report["pid"])
        with self._replied:
            self._replies[report["id"]] = report
            self._replied.notify_all()

    def close(self) -> None:
        """Stop the preloader (after the servers: its own children get a death signal when it goes)."""
        try:
            self._socket.close()
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---- the preloader process ------------------------------------------------------------------------------------
def _serve(control: socket.socket) -> None:
    for name in PRELOADED_MODULES:
        try:
            __import__(name)
        except ImportError:
            pass  # a library this environment lacks: the servers import what they need themselves
    # The imported objects live for good: keep the collector off them, so that it neither spends time on them
    # nor writes to their pages (which would unshare them from the forked servers).
    gc.freeze()
    children: set[int] = set()
    while True:
        readable, _, _ = select.select([control], [], [], 0.1)
        _reap(control, children)
        if not readable:
            continue
        header, fds, _, _ = socket.recv_fds(control, _HEADER.size, 1)
        header = _receive_rest(control, header, _HEADER.size)
        if header is None:
            return  # ng_run closed the socket: the run is over
        payload = _receive_rest(control, b"", _HEADER.unpack(header)[0])
        if payload is None:
            return
        request = json.loads(payload)
        (output,) = fds
        try:
            pid = os.fork()
        except OSError as error:
            os.close(output)
            _report(control, {"id": request["id"], "error": str(error)})
            continue
        if pid == 0:
            control.close()
            _become_server(request, output)  # never returns
        os.close(output)
        children.add(pid)
        _report(control, {"id": request["id"], "pid": pid})


def _receive_rest(control: socket.socket, received: bytes, size: int) -> bytes | None:
    """``received`` completed to ``size`` bytes from the socket; ``None`` when it closes first."""
    while len(received) < size:
        chunk = control.recv(size - len(received))
        if not chunk:
            return None
        received += chunk
    return received


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _report(control, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _report(control: socket.socket, report: dict[str, Any]) -> None:
    try:
        control.sendall(json.dumps(report).encode() + b"\n")
    except OSError:
        pass


def _std_stream(fd: int, errors: str) -> IO[str]:
    """A standard stream on ``fd`` as the interpreter makes one (unbuffered under ``PYTHONUNBUFFERED``)."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    raw = io.FileIO(fd, "w", closefd=False)
    binary = raw if unbuffered else io.BufferedWriter(raw)
    return io.TextIOWrapper(binary, encoding="utf-8", errors=errors, write_through=unbuffered)


def _show_command_line(words: list[str]) -> None:
    """Make ``ps`` show ``words`` for this process (as it would for a server started on its own).

    The kernel reads a process's command line from the memory its arguments were given in; that area is
    rewritten in place (the preloader's own command line is long enough, see ``TITLE_ROOM``). Best effort.
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49: arg_start, arg_end
        title = b"\0".join(word.encode() for word in words)[: end - start - 1]
        ctypes.memset(start, 0, end - start)
        ctypes.memmove(start, title, len(title))
    except (OSError, ValueError, IndexError):
        pass


def _run_as_main(compiled: Any, script: str) -> None:
    """Run a script's code as the ``__main__`` module, with the attributes `python script.py` gives it."""
    import builtins
    import importlib.machinery
    import types

    main = types.ModuleType("__main__")  # (its code sets __doc__ itself)
    main.__file__ = script
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    main.__spec__ = None
    main.__cached__ = None
    sys.modules["__main__"] = main
    exec(compiled, main.__dict__)


def _become_server(request: dict[str, Any], output: int) -> None:
    """In the forked child: become ``python argv...`` run from ``cwd`` with ``env``, then exit with its code."""
    from nemo_gym.runtime.process_utils import child_preexec

    code = 1
    try:
        child_preexec()  # own process group; SIGTERM when the preloader (so ng_run) goes
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdout = sys.__stdout__ = _std_stream(1, "strict")
        sys.stderr = sys.__stderr__ = _std_stream(2, "backslashreplace")
        script = os.path.abspath(request["argv"][0])
        sys.argv = list(request["argv"])
        _show_command_line([sys.executable, *sys.argv])
        # as `python app.py` would have it: the script's folder, PYTHONPATH, then the interpreter's own paths
        python_path = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
        sys.path[:] = [os.path.dirname(script), *python_path, *_BASE_SYS_PATH]
        try:
            with open(script, "rb") as source:
                compiled = compile(source.read(), script, "exec")
        except OSError as error:
            print(
                f"{sys.executable}: can't open file {script!r}: [Errno {error.errno}] {error.strerror}",
                file=sys.stderr,
            )
            code = 2
        else:
            _run_as_main(compiled, script)
            code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if stop.code is not None and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    # the interpreter's own paths: without `-m`'s working folder and the preloader's PYTHONPATH (a server's
    # environment names its own)
    _inherited = {entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry}
    _BASE_SYS_PATH = [entry for entry in sys.path[1:] if entry not in _inherited]
    _serve(socket.socket(fileno=int(sys.argv[1])))
