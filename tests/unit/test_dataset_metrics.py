"""ng_prepare_data's statistics: AvgMinMax, per-sample metrics and the conflict check's tolerances."""

import json
import math
import random
import statistics

import pytest

from nemo_gym.rollouts.dataset_metrics import (
    AlreadyAggregatedError,
    AvgMinMax,
    DatasetValidatorState,
    metrics_differences,
    round_metric,
    validate_sample,
)


def filled(values) -> AvgMinMax:
    accumulator = AvgMinMax()
    for value in values:
        accumulator.observe(value)
    return accumulator


def test_welford_matches_the_direct_formulas_and_chan_merge_matches_one_pass() -> None:
    rng = random.Random(7)
    values = [rng.uniform(-50, 50) for _ in range(200)]
    whole = filled(values)
    assert whole.mean == pytest.approx(statistics.fmean(values))
    assert math.sqrt(whole.M2 / (whole.total - 1)) == pytest.approx(statistics.stdev(values))
    left, right = filled(values[:37]), filled(values[37:])
    left.add(right)
    assert (left.total, left.min, left.max) == (whole.total, whole.min, whole.max)
    assert left.mean == pytest.approx(whole.mean) and left.M2 == pytest.approx(whole.M2)
    empty = AvgMinMax()
    empty.add(filled([1, 2]))
    assert empty.total == 2 and empty.mean == 1.5


def dumped(accumulator: AvgMinMax) -> dict:
    return accumulator.aggregate().model_dump(mode="json", by_alias=True)


def test_aggregate_rounds_and_uses_the_sample_stddev() -> None:
    result = dumped(filled([0, 1, 2, 3, 4]))
    assert result == {
        "Total # non-null values": 5,
        "Average": 2.0,
        "Min": 0.0,
        "Max": 4.0,
        "Standard deviation": 1.58,
    }
    assert dumped(filled([0.12345]))["Average"] == 0.123
    assert dumped(AvgMinMax()) == {
        "Total # non-null values": 0,
        "Average": 0.0,
        "Min": 0.0,
        "Max": 0.0,
        "Standard deviation": 0.0,
    }
    assert round_metric(12.3456) == 12.35 and round_metric(-0.98765) == -0.988


def test_an_aggregated_accumulator_refuses_more_values() -> None:
    accumulator = filled([1])
    assert accumulator.average == 0.0 and accumulator.stddev == 0.0  # unaggregated fields stay 0
    aggregated = accumulator.aggregate()
    assert aggregated.is_aggregated and not accumulator.is_aggregated
    with pytest.raises(AlreadyAggregatedError):
        aggregated.observe(2)
    with pytest.raises(AssertionError):  # the reference asserts
        accumulator.add(aggregated)
    accumulator.add(filled([3]))  # the original still accumulates
    assert accumulator.total == 2


def test_sample_metrics_follow_the_reference_definitions() -> None:
    state = DatasetValidatorState()
    row = {
        "responses_create_params": {
            "input": [{"role": "system", "content": "s"}, {"role": "user", "content": "a b"}],
            "tools": [{"type": "function", "name": "f", "parameters": {}}],
            "temperature": 0.5,
        },
        "id": 3,
        "solved": True,
        "tags": ["x", "y", "x"],
        "meta": {"ignored": 1},
        "nothing": None,
    }
    valid = validate_sample(json.dumps(row))
    assert not isinstance(valid, str)
    state.add_sample(*valid)
    bare = validate_sample('{"responses_create_params": {"input": []}}')
    state.add_sample(*bare)
    result = state.dump_metrics()
    assert result["Number of examples"] == 2
    assert result["Number of tools"]["Total # non-null values"] == 1
    assert result["Number of turns"]["Average"] == 1.0 and result["Number of turns"]["Total # non-null values"] == 1
    assert result["Temperature"]["Average"] == 0.5
    assert result["Json-dumped number of words (proxy for token count)"]["Min"] == 2.0
    assert result["id"]["Average"] == 3.0 and result["solved"]["Average"] == 1.0
    assert result["tags"] == {"unique_count": 2, "total_count": 3}
    assert "meta" not in result and "nothing" not in result


def test_invalid_samples_say_why() -> None:
    assert validate_sample("{oops").startswith("invalid JSON")
    assert validate_sample("[1]").startswith("expected a JSON object")
    assert "responses_create_params" in validate_sample('{"id": 1}')
    assert "bogus_param" in validate_sample('{"responses_create_params": {"input": [], "bogus_param": 1}}')


@pytest.mark.parametrize(
    ("previous", "new", "equal"),
    [
        (100.0, 100.004, True),
        (100.0, 100.006, False),
        (0.5, 0.5006, False),
        (0.999, 1.0039, True),
        (5, 5, True),
        (5, 6, False),
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1, "b": 2}, {"a": 1}, False),
        ([1, 2, 3], [3, 1, 2], True),
        ([1, 1, 2], [1, 2, 2], False),
        ([{"x": 1}, {"y": 2}], [{"y": 2}, {"x": 1}], True),
        ({"k": {"Average": 1.0}}, {"k": {"Average": 1.2}}, False),
    ],
)
def test_conflict_check_tolerances_and_structure(previous, new, equal) -> None:
    assert (metrics_differences(previous, new) == []) is equal
