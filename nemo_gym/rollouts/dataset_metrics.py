"""Dataset statistics for ``ng_prepare_data``: running min/max/mean/stddev, per-sample metrics, conflict checks."""

import json
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from nemo_gym.base_resources_server import BaseRunRequest

AVG_MIN_MAX_ALIASES = {
    "total": "Total # non-null values",
    "average": "Average",
    "min": "Min",
    "max": "Max",
    "stddev": "Standard deviation",
}
EXAMPLES_ALIAS = "Number of examples"
TOOLS_ALIAS = "Number of tools"
WORDS_ALIAS = "Json-dumped number of words (proxy for token count)"
TURNS_ALIAS = "Number of turns"
TEMPERATURE_ALIAS = "Temperature"
SKIPPED_TOP_LEVEL_KEYS = ("responses_create_params", "response")


def round_metric(value: float) -> float:
    """2 decimals for |x| >= 1, else 3 (ints are not rounded)."""
    return round(value, 2 if abs(value) >= 1 else 3)


class AlreadyAggregatedError(RuntimeError):
    pass


@dataclass
class AvgMinMax:
    """Welford's running mean and M2; two accumulators merge with Chan's parallel formula."""

    total: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    average: float = 0.0  # filled by aggregate()
    stddev: float = 0.0  # filled by aggregate()
    aggregated: bool = False

    def add(self, value: float) -> None:
        if self.aggregated:
            raise AlreadyAggregatedError("cannot add to an aggregated AvgMinMax")
        value = float(value)
        self.total += 1
        delta = value - self.mean
        self.mean += delta / self.total
        self.m2 += delta * (value - self.mean)
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def merge(self, other: "AvgMinMax") -> None:
        if self.aggregated:
            raise AlreadyAggregatedError("cannot merge into an aggregated AvgMinMax")
        if other.total == 0:
            return
        if self.total == 0:
            self.total, self.mean, self.m2 = other.total, other.mean, other.m2
            self.min, self.max = other.min, other.max
            return
        total = self.total + other.total
        delta = other.mean - self.mean
        self.mean += delta * other.total / total
        self.m2 += other.m2 + delta * delta * self.total * other.total / total
        self.total = total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def aggregate(self) -> dict[str, Any]:
        """Final figures by their JSON aliases; the accumulator cannot be added to afterwards."""
        self.aggregated = True
        if self.total == 0:
            self.average, self.min, self.max, self.stddev = 0.0, 0.0, 0.0, 0.0
        else:
            self.average = self.mean
            self.stddev = math.sqrt(self.m2 / (self.total - 1)) if self.total > 1 else 0.0
        return {
            AVG_MIN_MAX_ALIASES["total"]: self.total,
            AVG_MIN_MAX_ALIASES["average"]: round_metric(self.average),
            AVG_MIN_MAX_ALIASES["min"]: round_metric(self.min),
            AVG_MIN_MAX_ALIASES["max"]: round_metric(self.max),
            AVG_MIN_MAX_ALIASES["stddev"]: round_metric(self.stddev),
        }


@dataclass
class _KeyStats:
    numbers: AvgMinMax | None = None
    strings: set[str] | None = None
    string_count: int = 0

    def add(self, value: Any) -> None:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int | float):
            if self.numbers is None:
                self.numbers = AvgMinMax()
            self.numbers.add(value)
        elif isinstance(value, str):
            if self.strings is None:
                self.strings = set()
            self.strings.add(value)
            self.string_count += 1

    def merge(self, other: "_KeyStats") -> None:
        if other.numbers is not None:
            if self.numbers is None:
                self.numbers = AvgMinMax()
            self.numbers.merge(other.numbers)
        if other.strings is not None:
            self.strings = (self.strings or set()) | other.strings
            self.string_count += other.string_count

    def aggregate(self) -> dict[str, Any] | None:
        result: dict[str, Any] = {}
        if self.numbers is not None:
            result.update(AvgMinMax(**_copy_state(self.numbers)).aggregate())
        if self.strings is not None:
            result.update({"unique_count": len(self.strings), "total_count": self.string_count})
        return result or None


def _copy_state(value: AvgMinMax) -> dict[str, Any]:
    return {"total": value.total, "mean": value.mean, "m2": value.m2, "min": value.min, "max": value.max}


@dataclass
class DatasetMetrics:
    """Metrics of one dataset, or of all datasets of one type (``merge``)."""

    num_examples: int = 0
    tools: AvgMinMax = field(default_factory=AvgMinMax)
    words: AvgMinMax = field(default_factory=AvgMinMax)
    turns: AvgMinMax = field(default_factory=AvgMinMax)
    temperature: AvgMinMax = field(default_factory=AvgMinMax)
    extra: dict[str, _KeyStats] = field(default_factory=dict)

    def add_sample(self, row: dict[str, Any], params: dict[str, Any]) -> None:
        """``row`` is the raw line; ``params`` its validated create-params dumped without unset fields."""
        self.num_examples += 1
        if "tools" in params and params["tools"] is not None:
            self.tools.add(len(params["tools"]))
        user_turns = _count_user_turns(params.get("input"))
        if user_turns > 0:
            self.turns.add(user_turns)
        if params.get("temperature") is not None:
            self.temperature.add(params["temperature"])
        self.words.add(len(json.dumps(params).split()))
        for key, value in row.items():
            if key in SKIPPED_TOP_LEVEL_KEYS:
                continue
            stats = self.extra.get(key)
            if stats is None:
                stats = self.extra[key] = _KeyStats()
            for item in value if isinstance(value, list) else [value]:
                stats.add(item)

    def merge(self, other: "DatasetMetrics") -> None:
        self.num_examples += other.num_examples
        self.tools.merge(other.tools)
        self.words.merge(other.words)
        self.turns.merge(other.turns)
        self.temperature.merge(other.temperature)
        for key, stats in other.extra.items():
            self.extra.setdefault(key, _KeyStats()).merge(stats)

    def aggregate(self) -> dict[str, Any]:
        """The metrics by their JSON aliases (a copy: the accumulator can still be merged afterwards)."""
        result: dict[str, Any] = {
            EXAMPLES_ALIAS: self.num_examples,
            TOOLS_ALIAS: AvgMinMax(**_copy_state(self.tools)).aggregate(),
            WORDS_ALIAS: AvgMinMax(**_copy_state(self.words)).aggregate(),
            TURNS_ALIAS: AvgMinMax(**_copy_state(self.turns)).aggregate(),
            TEMPERATURE_ALIAS: AvgMinMax(**_copy_state(self.temperature)).aggregate(),
        }
        for key, stats in self.extra.items():
            aggregated = stats.aggregate()
            if aggregated is not None:
                result[key] = aggregated
        return result


def _count_user_turns(value: Any) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, list):
        return sum(1 for item in value if isinstance(item, dict) and item.get("role") == "user")
    return 0


def validate_sample(line: str | bytes) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """``(row, create-params dumped without unset fields)`` for a valid sample, else the reason it is invalid."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return f"invalid JSON ({error})"
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    try:
        request = BaseRunRequest.model_validate(row)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(row)"
        more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
    return row, request.responses_create_params.model_dump(mode="json", exclude_unset=True)


def _floats_close(a: float, b: float) -> bool:
    tolerance = 5e-3 if max(abs(a), abs(b)) >= 1 else 5e-4
    return abs(a - b) <= tolerance


def metrics_differences(previous: Any, new: Any, path: str = "") -> list[str]:
    """Where ``new`` disagrees with ``previous``: missing keys, changed values (floats within rounding tolerance).

    Keys only in ``new`` are fine; lists compare as multisets.
    """
    where = path or "(top level)"
    if isinstance(previous, dict):
        if not isinstance(new, dict):
            return [f"{where}: expected a mapping, got {new!r}"]
        differences = []
        for key, value in previous.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in new:
                differences.append(f"{child}: missing in the new metrics")
            else:
                differences.extend(metrics_differences(value, new[key], child))
        return differences
    if isinstance(previous, list):
        if not isinstance(new, list) or len(previous) != len(new):
            return [f"{where}: {previous!r} != {new!r}"]
        remaining = list(new)
        for item in previous:
            match = next((i for i, other in enumerate(remaining) if not metrics_differences(item, other)), None)
            if match is None:
                return [f"{where}: {previous!r} != {new!r} (as multisets)"]
            remaining.pop(match)
        return []
    if isinstance(previous, float) and isinstance(new, int | float) and not isinstance(new, bool):
        return [] if _floats_close(previous, float(new)) else [f"{where}: {previous!r} != {new!r}"]
    if isinstance(new, float) and isinstance(previous, int) and not isinstance(previous, bool):
        return [] if _floats_close(float(previous), new) else [f"{where}: {previous!r} != {new!r}"]
    return [] if previous == new and type(previous) is type(new) else [f"{where}: {previous!r} != {new!r}"]
