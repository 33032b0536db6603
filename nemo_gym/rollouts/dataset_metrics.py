"""Dataset statistics for ``ng_prepare_data``: running min/max/mean/stddev, per-sample metrics, conflict checks.

These are the reference's accumulator models (``nemo_gym.train_data_utils`` re-exports them): ``observe`` a
value, ``add`` another accumulator of the same kind, ``aggregate()`` for a rounded, aggregated copy whose
``model_dump(mode="json", by_alias=True)`` is what the ``*_metrics.json`` files hold.
"""

import json
import math
from collections import Counter
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nemo_gym.base_resources_server import BaseRunRequest

SKIPPED_TOP_LEVEL_KEYS = ("responses_create_params", "response")


def round_metric(value: float) -> float:
    """2 decimals for |x| >= 1, else 3 (ints are not rounded)."""
    return round(value, 2 if abs(value) >= 1 else 3)


class AlreadyAggregatedError(AssertionError):
    """Adding to (or observing into) an aggregated accumulator; an AssertionError, as the reference asserts."""


class Accumulator(BaseModel):
    """Base of the metric accumulators: ``add`` merges another one in place, ``aggregate`` returns a final copy."""

    is_aggregated: bool = Field(default=False, exclude=True)

    def add(self, other: Self) -> None:
        if self.is_aggregated or other.is_aggregated:
            raise AlreadyAggregatedError(f"cannot add aggregated {type(self).__name__} accumulators")
        self._add(other)

    def _add(self, other: Self) -> None:
        raise NotImplementedError

    def aggregate(self) -> Self:
        """A new, aggregated accumulator (this one is unchanged and can still be added to)."""
        result = self._aggregate()
        result.is_aggregated = True
        return result

    def _aggregate(self) -> Self:
        raise NotImplementedError


class AvgMinMax(Accumulator):
    """Welford's running mean and M2; two accumulators merge with Chan's parallel formula.

    ``average`` and ``stddev`` stay 0 until ``aggregate()`` (sample standard deviation, every float rounded).
    """

    total: int = Field(default=0, serialization_alias="Total # non-null values")
    average: float = Field(default=0.0, serialization_alias="Average")
    min: float = Field(default=math.inf, serialization_alias="Min")
    max: float = Field(default=-math.inf, serialization_alias="Max")
    stddev: float = Field(default=0.0, serialization_alias="Standard deviation")
    mean: float = Field(default=0.0, exclude=True)
    M2: float = Field(default=0.0, exclude=True)

    def observe(self, value: float) -> None:
        if self.is_aggregated:
            raise AlreadyAggregatedError("cannot observe into an aggregated AvgMinMax")
        value = float(value)
        self.total += 1
        delta = value - self.mean
        self.mean += delta / self.total
        self.M2 += delta * (value - self.mean)
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def _add(self, other: "AvgMinMax") -> None:
        if other.total == 0:
            return
        if self.total == 0:
            self.total, self.mean, self.M2 = other.total, other.mean, other.M2
            self.min, self.max = other.min, other.max
            return
        total = self.total + other.total
        delta = other.mean - self.mean
        self.mean += delta * other.total / total
        self.M2 += other.M2 + delta * delta * self.total * other.total / total
        self.total = total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def _aggregate(self) -> "AvgMinMax":
        if self.total == 0:
            return AvgMinMax(min=0.0, max=0.0)
        stddev = math.sqrt(self.M2 / (self.total - 1)) if self.total > 1 else 0.0
        return AvgMinMax(
            total=self.total,
            average=round_metric(self.mean),
            min=round_metric(self.min),
            max=round_metric(self.max),
            stddev=round_metric(stddev),
        )


class StringMetrics(BaseModel):
    """A top-level string field: how many distinct values, how many values."""

    unique_count: int
    total_count: int


class DatasetMetrics(Accumulator):
    """Metrics of one dataset, or of all datasets of one type; other top-level fields are extra attributes."""

    model_config = ConfigDict(extra="allow")

    number_of_examples: int = Field(default=0, serialization_alias="Number of examples")
    number_of_tools: AvgMinMax = Field(default_factory=AvgMinMax, serialization_alias="Number of tools")
    json_dumped_number_of_words: AvgMinMax = Field(
        default_factory=AvgMinMax, serialization_alias="Json-dumped number of words (proxy for token count)"
    )
    number_of_turns: AvgMinMax = Field(default_factory=AvgMinMax, serialization_alias="Number of turns")
    temperature: AvgMinMax = Field(default_factory=AvgMinMax, serialization_alias="Temperature")

    def _add(self, other: "DatasetMetrics") -> None:
        self.number_of_examples += other.number_of_examples
        self.number_of_tools.add(other.number_of_tools)
        self.json_dumped_number_of_words.add(other.json_dumped_number_of_words)
        self.number_of_turns.add(other.number_of_turns)
        self.temperature.add(other.temperature)
        # Extras are already aggregated per dataset: a later one replaces an earlier one of the same name
        # (ng_prepare_data merges the raw other-metrics instead, see merge_other_metrics).
        self.extras().update(other.extras())

    def _aggregate(self) -> "DatasetMetrics":
        result = DatasetMetrics(
            number_of_examples=self.number_of_examples,
            number_of_tools=self.number_of_tools.aggregate(),
            json_dumped_number_of_words=self.json_dumped_number_of_words.aggregate(),
            number_of_turns=self.number_of_turns.aggregate(),
            temperature=self.temperature.aggregate(),
        )
        result.extras().update(self.extras())
        return result

    def extras(self) -> dict[str, Any]:
        """The extra attributes (top-level sample fields), by name; a live view that may be updated."""
        if self.__pydantic_extra__ is None:
            self.__pydantic_extra__ = {}
        return self.__pydantic_extra__


def _kinds(value: Any) -> tuple[AvgMinMax | None, Counter | None]:
    """(numbers, strings) of one other-metrics entry: an AvgMinMax, a Counter, or a [AvgMinMax, Counter] pair."""
    if isinstance(value, AvgMinMax):
        return value, None
    if isinstance(value, Counter):
        return None, value
    return value[0], value[1]


def _entry(numbers: AvgMinMax | None, strings: Counter | None) -> Any:
    if numbers is not None and strings is not None:
        return [numbers, strings]
    return numbers if numbers is not None else strings


def aggregate_other_metrics(metrics: dict[str, Any], sample: dict[str, Any]) -> None:
    """Fold a sample's other top-level fields (not the create-params or response) into ``metrics``.

    A list contributes each item; a bool counts as an int; numbers go to an ``AvgMinMax`` and strings to a
    ``Counter`` per key (a key holding both keeps both, as ``[AvgMinMax, Counter]``); dicts and None are ignored.
    """
    for key, value in sample.items():
        if key in SKIPPED_TOP_LEVEL_KEYS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                item = int(item)
            if not isinstance(item, int | float | str):
                continue
            numbers, strings = _kinds(metrics[key]) if key in metrics else (None, None)
            if isinstance(item, str):
                strings = strings if strings is not None else Counter()
                strings[item] += 1
            else:
                numbers = numbers if numbers is not None else AvgMinMax()
                numbers.observe(item)
            metrics[key] = _entry(numbers, strings)


def merge_other_metrics(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Add ``other``'s raw other-metrics to ``into`` (``other`` is left as it was)."""
    for key, value in other.items():
        numbers, strings = _kinds(into[key]) if key in into else (None, None)
        other_numbers, other_strings = _kinds(value)
        if other_numbers is not None:
            numbers = numbers if numbers is not None else AvgMinMax()
            numbers.add(other_numbers)
        if other_strings is not None:
            strings = strings if strings is not None else Counter()
            strings.update(other_strings)
        into[key] = _entry(numbers, strings)


def postprocess_other_metrics(metrics: DatasetMetrics, other_metrics: dict[str, Any]) -> None:
    """Set each other-metric on ``metrics`` as an extra attribute: an aggregated ``AvgMinMax`` for numbers,
    ``StringMetrics`` for strings (a key holding both becomes one dict with both sets of figures)."""
    extras = metrics.extras()
    for key, value in other_metrics.items():
        numbers, strings = _kinds(value)
        string_metrics = None
        if strings is not None:
            string_metrics = StringMetrics(unique_count=len(strings), total_count=sum(strings.values()))
        if numbers is not None and string_metrics is not None:
            extras[key] = {**numbers.aggregate().model_dump(mode="json", by_alias=True), **string_metrics.model_dump()}
        else:
            extras[key] = numbers.aggregate() if numbers is not None else string_metrics


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


def params_metrics(params: dict[str, Any]) -> DatasetMetrics:
    """The metrics of one valid sample from its create-params (dumped without unset fields)."""
    metrics = DatasetMetrics(number_of_examples=1)
    if params.get("tools") is not None:
        metrics.number_of_tools.observe(len(params["tools"]))
    user_turns = _count_user_turns(params.get("input"))
    if user_turns > 0:
        metrics.number_of_turns.observe(user_turns)
    if params.get("temperature") is not None:
        metrics.temperature.observe(params["temperature"])
    metrics.json_dumped_number_of_words.observe(len(json.dumps(params).split()))
    return metrics


def compute_sample_metrics(sample_dict_str: str) -> tuple[DatasetMetrics, bool]:
    """``(metrics of the sample, is_offending)``: an unparsable or invalid sample gives empty metrics and True."""
    outcome = validate_sample(sample_dict_str)
    if isinstance(outcome, str):
        return DatasetMetrics(), True
    return params_metrics(outcome[1]), False


def _count_user_turns(value: Any) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, list):
        return sum(1 for item in value if isinstance(item, dict) and item.get("role") == "user")
    return 0


class DatasetValidatorState(BaseModel):
    """What validating one dataset collects: metrics of the valid samples, how often each top-level key
    occurs, the indices (in the repeated stream) of invalid samples, and the raw other-metrics."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    metrics: DatasetMetrics = Field(default_factory=DatasetMetrics)
    key_counts: Counter = Field(default_factory=Counter)
    offending_example_idxs: list[int] = Field(default_factory=list)
    other_metrics: dict[str, Any] = Field(default_factory=dict)

    def add_sample(self, row: dict[str, Any], params: dict[str, Any]) -> None:
        """Count a valid sample: ``row`` is the raw line, ``params`` its validated create-params."""
        self.key_counts.update(row.keys())
        self.metrics.add(params_metrics(params))
        aggregate_other_metrics(self.other_metrics, row)

    def merge(self, other: "DatasetValidatorState") -> None:
        """Add another dataset's state (per-type totals): metrics, key counts and raw other-metrics."""
        self.metrics.add(other.metrics)
        self.key_counts.update(other.key_counts)
        merge_other_metrics(self.other_metrics, other.other_metrics)

    def dump_metrics(self) -> dict[str, Any]:
        """The aggregated metrics by their JSON aliases (the other-metrics included)."""
        postprocess_other_metrics(self.metrics, self.other_metrics)
        return self.metrics.aggregate().model_dump(mode="json", by_alias=True)


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
