"""What an earlier run left behind: finished (row, repeat) pairs, a torn last line, recorded failures."""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from nemo_gym.rollouts.input_rows import ROLLOUT_META_KEY

logger = logging.getLogger("nemo_gym.rollouts")


def failures_path_for(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".failures.jsonl")


def metrics_path_for(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".metrics.json")


class DoneSet:
    """Which (row, repeat) pairs of ``num_rows x num_repeats`` are finished: one bit per pair."""

    def __init__(self, num_rows: int, num_repeats: int) -> None:
        self.num_rows = num_rows
        self.num_repeats = num_repeats
        self._bits = bytearray((num_rows * num_repeats + 7) // 8)
        self.count = 0

    def _position(self, row_index: int, repeat: int) -> int | None:
        if 0 <= row_index < self.num_rows and 0 <= repeat < self.num_repeats:
            return row_index * self.num_repeats + repeat
        return None

    def add(self, row_index: int, repeat: int) -> bool:
        """Mark the pair; False when it was already marked or lies outside this run's range."""
        position = self._position(row_index, repeat)
        if position is None:
            return False
        byte, bit = divmod(position, 8)
        if self._bits[byte] & (1 << bit):
            return False
        self._bits[byte] |= 1 << bit
        self.count += 1
        return True

    def __contains__(self, pair: tuple[int, int]) -> bool:
        position = self._position(*pair)
        if position is None:
            return False
        byte, bit = divmod(position, 8)
        return bool(self._bits[byte] & (1 << bit))


def rollout_pair(row: Any) -> tuple[int, int] | None:
    meta = row.get(ROLLOUT_META_KEY) if isinstance(row, dict) else None
    if not isinstance(meta, dict):
        return None
    row_index, repeat = meta.get("row_index"), meta.get("repeat")
    if isinstance(row_index, int) and isinstance(repeat, int):
        return row_index, repeat
    return None


@dataclass
class OutputScan:
    num_lines: int = 0
    num_in_range: int = 0
    num_duplicates: int = 0
    num_unreadable: int = 0
    truncated_bytes: int = 0


def truncate_torn_tail(path: Path) -> int:
    """Cut bytes after the last newline (a line torn by a kill); returns how many were removed."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as handle:
        position = size
        chunk = 65536
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            block = handle.read(position - start)
            newline = block.rfind(b"\n")
            if newline != -1:
                keep = start + newline + 1
                break
            position = start
        else:
            keep = 0
    if keep < size:
        os.truncate(path, keep)
    return size - keep


def scan_output(path: Path, done: DoneSet, on_row: Callable[[dict[str, Any]], None] | None = None) -> OutputScan:
    """Mark the pairs already in ``path`` as done; ``on_row`` sees each readable row (for the metrics)."""
    scan = OutputScan()
    if not path.exists():
        return scan
    scan.truncated_bytes = truncate_torn_tail(path)
    if scan.truncated_bytes:
        logger.warning(
            "Removed an incomplete last line (%d bytes) of %s left by an interrupted run; it will be redone",
            scan.truncated_bytes,
            path,
        )
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            scan.num_lines += 1
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError:
                scan.num_unreadable += 1
                continue
            pair = rollout_pair(row)
            if pair is None:
                scan.num_unreadable += 1
                continue
            if on_row is not None:
                on_row(row)
            if pair in done:
                scan.num_duplicates += 1
            elif done.add(*pair):
                scan.num_in_range += 1
    if scan.num_unreadable:
        logger.warning(
            "%d line(s) of %s are not rollouts written by ng_collect_rollouts (no %r key); they are kept but ignored",
            scan.num_unreadable,
            path,
            ROLLOUT_META_KEY,
        )
    return scan


def count_previous_failures(path: Path, done: DoneSet) -> int:
    """How many (row, repeat) pairs recorded in a failures file are still not done (and will be retried)."""
    if not path.exists():
        return 0
    pending: set[tuple[int, int]] = set()
    with path.open("rb") as handle:
        for raw in handle:
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # a torn last line
            if not isinstance(entry, dict):
                continue
            row_index, repeat = entry.get("row_index"), entry.get("repeat")
            if isinstance(row_index, int) and isinstance(repeat, int) and (row_index, repeat) not in done:
                pending.add((row_index, repeat))
    return len(pending)


class LineWriter:
    """Appends complete lines with one ``write`` system call each, so a kill can only tear the very last line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write_line(self, data: bytes) -> None:
        view = memoryview(data + b"\n")
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1
