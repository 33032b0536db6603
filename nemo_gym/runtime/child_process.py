"""A server process of ng_run as the supervisor sees it: its readiness, and its output forwarded line by line."""

import collections
import subprocess
import threading
from dataclasses import dataclass, field
from typing import IO

from nemo_gym.config.schema import ServerInstance
from nemo_gym.config.secrets import scrubber
from nemo_gym.config.shape import connectable_host

OUTPUT_TAIL_LINES = 40
MAX_FORWARDED_LINE_BYTES = 8192
SECRET_MARGIN = 256


@dataclass
class Child:
    instance: ServerInstance
    process: subprocess.Popen[bytes]
    start_time: float
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=OUTPUT_TAIL_LINES))
    reader: threading.Thread | None = None
    ready: bool = False

    @property
    def health_url(self) -> str:
        return f"http://{connectable_host(self.instance.config.host)}:{self.instance.config.port}/health"


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
