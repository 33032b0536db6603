"""Rollout collection bookkeeping without sockets: input checks, resume state, torn lines, metrics."""

import orjson
import pytest

from nemo_gym.rollouts.input_rows import iter_input_lines, scan_input
from nemo_gym.rollouts.metrics import RolloutMetrics, pass_at_k
from nemo_gym.rollouts.resume import DoneSet, LineWriter, count_previous_failures, scan_output, truncate_torn_tail


def rollout(row_index: int, repeat: int, reward: float, agent: str = "a", **fields) -> dict:
    return {"reward": reward, "_ng_rollout": {"row_index": row_index, "repeat": repeat, "agent": agent}, **fields}


def test_input_lines_are_numbered_by_file_line_and_indexed_by_row(tmp_path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n\n  \n{"a": 2}\n{"a": 3}\n')
    lines = list(iter_input_lines(path))
    assert [(line.row_index, line.line_number) for line in lines] == [(0, 1), (1, 4), (2, 5)]
    assert [line.row_index for line in iter_input_lines(path, limit=2)] == [0, 1]


def test_scan_input_counts_rows_per_agent_and_caps_the_reported_problems(tmp_path) -> None:
    path = tmp_path / "in.jsonl"
    good = orjson.dumps({"responses_create_params": {"input": "hi"}, "agent_ref": {"name": "x"}})
    path.write_bytes(b"\n".join([good, good] + [b"oops"] * 30) + b"\n")
    scan = scan_input(path, limit=None, agent_name=None, known_agents={"x"})
    assert scan.num_rows == 32 and scan.rows_per_agent == {"x": 2}
    assert scan.num_problems == 30 and len(scan.problems) == 20
    assert "... and 10 more" in scan.describe_problems(path)
    assert scan_input(path, limit=2, agent_name="y", known_agents=None).num_problems == 0


def test_done_set_marks_each_pair_once_and_ignores_pairs_out_of_range() -> None:
    done = DoneSet(num_rows=3, num_repeats=2)
    assert done.add(2, 1) and not done.add(2, 1)
    assert not done.add(3, 0) and not done.add(0, 2)
    assert (2, 1) in done and (2, 0) not in done and done.count == 1


def test_a_torn_last_line_is_cut_and_complete_lines_stay(tmp_path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert truncate_torn_tail(path) == len(b'{"a": 3, "b"')
    assert path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    assert truncate_torn_tail(path) == 0
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_bytes(b"x" * 100_000)
    assert truncate_torn_tail(only_torn) == 100_000 and only_torn.read_bytes() == b""


def test_scan_output_marks_finished_pairs_and_feeds_every_row_to_the_metrics(tmp_path) -> None:
    path = tmp_path / "out.jsonl"
    lines = [rollout(0, 0, 1.0), rollout(1, 1, 0.0), rollout(1, 1, 0.0), {"no": "meta"}, rollout(9, 0, 1.0)]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines) + b'{"reward": 1.0, "_ng')
    done = DoneSet(num_rows=2, num_repeats=2)
    seen = []
    scan = scan_output(path, done, on_row=seen.append)
    assert (0, 0) in done and (1, 1) in done and done.count == 2
    assert scan.num_duplicates == 1 and scan.num_unreadable == 1 and scan.truncated_bytes > 0
    assert len(seen) == 4
    assert path.read_bytes().endswith(b"\n")


def test_previous_failures_that_are_still_missing_are_counted(tmp_path) -> None:
    path = tmp_path / "out.jsonl.failures.jsonl"
    entries = [{"row_index": 0, "repeat": 0}, {"row_index": 1, "repeat": 0}, {"row_index": 1, "repeat": 0}]
    path.write_bytes(b"".join(orjson.dumps(entry) + b"\n" for entry in entries) + b'{"row_in')
    done = DoneSet(2, 1)
    done.add(0, 0)
    assert count_previous_failures(path, done) == 1


def test_line_writer_appends_whole_lines(tmp_path) -> None:
    path = tmp_path / "deep" / "out.jsonl"
    writer = LineWriter(path)
    writer.write_line(b'{"a": 1}')
    writer.write_line(b"x" * 300_000)
    writer.close()
    assert path.read_bytes() == b'{"a": 1}\n' + b"x" * 300_000 + b"\n"


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(4, 0, 4) == 0.0
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - (3 * 2) / (5 * 4))
    assert pass_at_k(2, 1, 4) == 1.0 and pass_at_k(2, 0, 4) == 0.0


def test_metrics_average_each_numeric_key_over_the_rows_that_have_it() -> None:
    metrics = RolloutMetrics()
    metrics.add(rollout(0, 0, 1.0, agent="a", steps=2, solved=True, note="text"))
    metrics.add(rollout(0, 1, 0.0, agent="a", steps=4, solved=False))
    metrics.add(rollout(1, 0, 0.5, agent="b"))
    metrics.add(rollout(1, 1, 1.0, agent="b", nan_value=float("nan")))
    metrics.add_failure()
    summary = metrics.summary(num_repeats=2)
    assert summary["num_rollouts"] == 4 and summary["num_failed"] == 1
    assert summary["mean_reward"] == pytest.approx(2.5 / 4)
    assert summary["mean_reward_by_agent"] == {"a": 0.5, "b": 0.75}
    assert summary["averages"]["steps"] == 3.0 and summary["counts"]["steps"] == 2
    assert summary["averages"]["solved"] == 0.5
    assert "note" not in summary["averages"] and "nan_value" not in summary["averages"]
    assert summary["pass@1"] == pytest.approx((0.5 + 0.5) / 2)
    assert summary["pass@2"] == 1.0
    assert "pass@1" not in metrics.summary(num_repeats=1)


def test_pass_threshold_decides_which_rewards_pass() -> None:
    metrics = RolloutMetrics(pass_threshold=0.5)
    metrics.add(rollout(0, 0, 0.5))
    metrics.add(rollout(0, 1, 0.2))
    assert metrics.summary(2)["pass@1"] == 0.5


def test_progress_shows_done_total_mean_reward_and_failures_on_a_bar_and_as_plain_lines(caplog) -> None:
    import io
    import logging

    from nemo_gym.rollouts.progress import CollectionProgress

    metrics = RolloutMetrics()
    stream = io.StringIO()
    bar = CollectionProgress(10, 4, metrics, stream=stream, use_bar=True)
    metrics.add(rollout(0, 0, 1.0))
    bar.advance()
    metrics.add_failure()
    bar.advance()
    bar.close()
    text = stream.getvalue()
    assert "6/10" in text and "mean reward 1.0000" in text and "failed 1" in text

    with caplog.at_level(logging.INFO, logger="nemo_gym.rollouts"):
        plain = CollectionProgress(3, 0, metrics, stream=io.StringIO(), use_bar=False, interval_s=0)
        plain.advance()
        plain.close()
    assert "1/3 rollouts" in caplog.text and "mean reward 1.0000, 1 failed" in caplog.text
