"""A server process of ng_run as the supervisor sees it: its readiness, and its output forwarded line by line."""

import collections
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from nemo_gym.config.schema import ServerInstance
from nemo_gym.config.secrets import scrubber
from nemo_gym.config.shape import connectable_host
from nemo_gym.runtime.preload import ForkedProcess, Preloader
from nemo_gym.runtime.process_utils import child_preexec

OUTPUT_TAIL_LINES = 40
MAX_FORWARDED_LINE_BYTES = 8192
SECRET_MARGIN = 256


@dataclass
class Child:
    instance: ServerInstance
    process: subprocess.Popen[bytes] | ForkedProcess
    start_time: float
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=OUTPUT_TAIL_LINES))
    reader: threading.Thread | None = None
    ready: bool = False

    @property
    def health_url(self) -> str:
        return f"http://{connectable_host(self.instance.config.host)}:{self.instance.config.port}/health"


def start_server_process(
    preloader: Preloader | None,
    python: str,
    instance: ServerInstance,
    server_dir: Path,
    env: dict[str, str],
    say: Callable[[str], None],
) -> subprocess.Popen[bytes] | ForkedProcess:
    """``python <entrypoint>`` in ``server_dir``: forked from the preloader when it runs this interpreter, else a
    new process of its own (also when the preloader fails). Its output comes out of ``process.stdout``."""
    if preloader is not None and python == sys.executable:
        try:
            return preloader.spawn([instance.config.entrypoint], server_dir, env)
        except OSError as error:
            say(f"Starting {instance.name} without the preloader ({error})")
    return subprocess.Popen(
        [python, instance.config.entrypoint],
        cwd=server_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=child_preexec,
    )


def pump_output(child: Child, stream: IO[bytes], sink: IO[str], lock: threading.Lock) -> None:
    """Prefix each line of the child's output with its instance name, mask secrets, keep the last lines.

    A line longer than ``MAX_FORWARDED_LINE_BYTES`` (a server that prints a whole request, say) is shown cut,
    with the number of bytes left out; it is never held in memory whole.
    """
    prefix = f"({child.instance.name}) "
    long_line_bytes = 0  # > 0 while the rest of an over-long line is being read and dropped
    for raw in iter(lambda: stream.readline(MAX_FORWARDED_LINE_BYTES), b""):
        complete = raw.endswith(b"\n")
        if long_line_bytes:
            long_line_bytes += len(raw)
            if complete:
                _forward(child, sink, lock, f"{prefix}[... the line above was {long_line_bytes} bytes long; cut]")
                long_line_bytes = 0
            continue
        line = scrubber.scrub(raw.decode(errors="replace").rstrip("\n"))
        if not complete and len(raw) >= MAX_FORWARDED_LINE_BYTES:
            # cut well before the end: a secret split by the cut would not be recognised by the scrubber
            line = line[:-SECRET_MARGIN]
            long_line_bytes = len(raw)
        _forward(child, sink, lock, prefix + line)
    stream.close()


def _forward(child: Child, sink: IO[str], lock: threading.Lock, text: str) -> None:
    child.tail.append(text)
    with lock:
        sink.write(text + "\n")
        sink.flush()
