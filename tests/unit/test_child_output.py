"""How ng_run forwards a child's output: prefixed, secrets masked, over-long lines cut without holding them."""

import io
import threading
from types import SimpleNamespace

from nemo_gym.config.secrets import scrubber
from nemo_gym.runtime.child_process import MAX_FORWARDED_LINE_BYTES, Child, pump_output


def forward(data: bytes) -> tuple[str, list[str]]:
    child = Child(instance=SimpleNamespace(name="srv"), process=None, start_time=0.0)
    sink = io.StringIO()
    pump_output(child, io.BytesIO(data), sink, threading.Lock())
    return sink.getvalue(), list(child.tail)


def test_each_line_is_prefixed_with_the_instance_name() -> None:
    printed, tail = forward(b"hello\nworld\n")
    assert printed == "(srv) hello\n(srv) world\n"
    assert tail == ["(srv) hello", "(srv) world"]


def test_a_huge_line_is_cut_and_its_length_reported() -> None:
    huge = b"x" * (10 * MAX_FORWARDED_LINE_BYTES)
    printed, _ = forward(b"before\n" + huge + b"\nafter\n")
    lines = printed.splitlines()
    assert lines[0] == "(srv) before" and lines[-1] == "(srv) after"
    assert len(printed) < 2 * MAX_FORWARDED_LINE_BYTES
    assert f"was {len(huge) + 1} bytes long; cut" in lines[-2]


def test_a_secret_at_the_cut_is_not_shown_in_part() -> None:
    secret = "sk-canary-" + "s" * 40
    scrubber.add([secret])
    padding = b"y" * (MAX_FORWARDED_LINE_BYTES - 20)
    printed, _ = forward(padding + secret.encode() + b"z" * 100 + b"\n")
    assert "sk-canary" not in printed
