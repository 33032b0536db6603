"""Reading a rollout input file as a stream, and checking every line before any request is sent."""

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from nemo_gym.errors import NeMoGymError

# Our bookkeeping key on output rows; stripped from input rows so an output file can be fed back as input.
ROLLOUT_META_KEY = "_ng_rollout"
MAX_REPORTED_PROBLEMS = 20


class InputRowsError(NeMoGymError):
    """Some input lines cannot be collected; the message lists them with their line numbers."""


@dataclass(frozen=True)
class InputLine:
    row_index: int  # 0-based among the non-blank lines
    line_number: int  # 1-based line of the file
    raw: bytes


@dataclass
class InputScan:
    num_rows: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    num_problems: int = 0
    rows_per_agent: dict[str, int] = field(default_factory=dict)

    def add_problem(self, line_number: int, message: str) -> None:
        self.num_problems += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append((line_number, message))

    def describe_problems(self, path: Path) -> str:
        lines = [f"line {number}: {message}" for number, message in self.problems]
        more = self.num_problems - len(self.problems)
        if more > 0:
            lines.append(f"... and {more} more")
        return f"{self.num_problems} invalid line(s) in {path}: " + "; ".join(lines)


def iter_input_lines(path: Path, limit: int | None = None) -> Iterator[InputLine]:
    """Yield the non-blank lines of ``path`` one at a time (the file is never loaded whole)."""
    row_index = 0
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if limit is not None and row_index >= limit:
                return
            if not raw.strip():
                continue
            yield InputLine(row_index=row_index, line_number=line_number, raw=raw)
            row_index += 1


def row_agent_name(row: dict[str, Any], agent_name: str | None) -> str | None:
    """``agent_name`` when given (it wins over the row's ``agent_ref``), else ``agent_ref.name``."""
    if agent_name:
        return agent_name
    ref = row.get("agent_ref")
    if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]:
        return ref["name"]
    return None


def parse_row(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The row as a dict, or the reason it is not a valid input row."""
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return None, f"invalid JSON ({error})"
    if not isinstance(row, dict):
        return None, f"expected a JSON object, got {type(row).__name__}"
    params = row.get("responses_create_params")
    if params is None:
        return None, "missing 'responses_create_params'"
    if not isinstance(params, dict):
        return None, f"'responses_create_params' must be an object, got {type(params).__name__}"
    return row, None


def scan_input(
    path: Path, *, limit: int | None, agent_name: str | None, known_agents: Collection[str] | None
) -> InputScan:
    """One pass over the input: count rows and collect every line that could not be collected.

    ``known_agents`` is the set of agent instances of the running config (None skips that check).
    """
    scan = InputScan()
    for line in iter_input_lines(path, limit):
        scan.num_rows += 1
        row, problem = parse_row(line.raw)
        if row is None:
            scan.add_problem(line.line_number, problem or "invalid row")
            continue
        agent = row_agent_name(row, agent_name)
        if agent is None:
            scan.add_problem(line.line_number, "no agent: give +agent_name=... or an 'agent_ref' with a 'name'")
            continue
        if known_agents is not None and agent not in known_agents:
            known = ", ".join(sorted(known_agents)) or "none"
            scan.add_problem(line.line_number, f"unknown agent {agent!r} (agents of the running config: {known})")
            continue
        scan.rows_per_agent[agent] = scan.rows_per_agent.get(agent, 0) + 1
    return scan
