"""The summary of a rollout file: mean reward (overall and per agent), per-key averages and pass@k."""

import math
from dataclasses import dataclass, field
from math import comb
from typing import Any

from nemo_gym.rollouts.input_rows import ROLLOUT_META_KEY

DEFAULT_PASS_THRESHOLD = 1.0


def numeric_value(value: Any) -> float | None:
    """Top-level values that are averaged: ints, finite floats and booleans (as 0/1)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def pass_at_k(num_samples: int, num_passed: int, k: int) -> float:
    """Unbiased pass@k for one row; with fewer than k samples it is whether any of them passed."""
    if num_samples <= 0:
        return 0.0
    if num_samples < k:
        return 1.0 if num_passed > 0 else 0.0
    if num_samples - num_passed < k:
        return 1.0
    return 1.0 - comb(num_samples - num_passed, k) / comb(num_samples, k)


@dataclass
class _Mean:
    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass
class RolloutMetrics:
    """Fed one finished rollout at a time; memory grows with the number of input rows, not with row sizes."""

    pass_threshold: float = DEFAULT_PASS_THRESHOLD
    num_rollouts: int = 0
    num_failed: int = 0
    _keys: dict[str, _Mean] = field(default_factory=dict)
    _agents: dict[str, _Mean] = field(default_factory=dict)
    _agent_rollouts: dict[str, int] = field(default_factory=dict)
    # row_index -> [samples with a reward, samples that passed]
    _rows: dict[int, list[int]] = field(default_factory=dict)

    def add(self, result: dict[str, Any]) -> None:
        self.num_rollouts += 1
        for key, value in result.items():
            number = numeric_value(value)
            if number is not None:
                mean = self._keys.get(key)
                if mean is None:
                    mean = self._keys[key] = _Mean()
                mean.add(number)
        reward = numeric_value(result.get("reward"))
        meta = result.get(ROLLOUT_META_KEY)
        meta = meta if isinstance(meta, dict) else {}
        agent = meta.get("agent")
        if not isinstance(agent, str):
            ref = result.get("agent_ref")
            agent = ref.get("name") if isinstance(ref, dict) else None
        if isinstance(agent, str):
            self._agent_rollouts[agent] = self._agent_rollouts.get(agent, 0) + 1
            if reward is not None:
                self._agents.setdefault(agent, _Mean()).add(reward)
        row_index = meta.get("row_index")
        if isinstance(row_index, int) and reward is not None:
            counts = self._rows.setdefault(row_index, [0, 0])
            counts[0] += 1
            counts[1] += reward >= self.pass_threshold

    def add_failure(self) -> None:
        self.num_failed += 1

    @property
    def mean_reward(self) -> float | None:
        mean = self._keys.get("reward")
        return mean.mean if mean else None

    def summary(self, num_repeats: int = 1) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "num_rollouts": self.num_rollouts,
            "num_failed": self.num_failed,
            "mean_reward": self.mean_reward,
            "mean_reward_by_agent": {name: mean.mean for name, mean in sorted(self._agents.items())},
            "rollouts_by_agent": dict(sorted(self._agent_rollouts.items())),
            "averages": {key: mean.mean for key, mean in self._keys.items()},
            "counts": {key: mean.count for key, mean in self._keys.items()},
        }
        if num_repeats > 1 and self._rows:
            rows = self._rows.values()
            summary["num_repeats"] = num_repeats
            summary["pass_threshold"] = self.pass_threshold
            summary["pass@1"] = sum(pass_at_k(n, c, 1) for n, c in rows) / len(self._rows)
            summary[f"pass@{num_repeats}"] = sum(pass_at_k(n, c, num_repeats) for n, c in rows) / len(self._rows)
        return summary
