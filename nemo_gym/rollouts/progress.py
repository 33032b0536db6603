"""Progress of a collection: a bar on a terminal, a plain line every few seconds otherwise."""

import logging
import sys
import time
from typing import IO

from nemo_gym.rollouts.metrics import RolloutMetrics

logger = logging.getLogger("nemo_gym.rollouts")

PLAIN_REPORT_INTERVAL_S = 10.0
BAR_REFRESH_INTERVAL_S = 0.2


class CollectionProgress:
    """``advance()`` after every finished or failed rollout; the figures come from ``metrics``."""

    def __init__(
        self,
        total: int,
        already_done: int,
        metrics: RolloutMetrics,
        *,
        stream: IO[str] | None = None,
        use_bar: bool | None = None,
        interval_s: float = PLAIN_REPORT_INTERVAL_S,
    ) -> None:
        self.total = total
        self.done = already_done
        self.metrics = metrics
        self.stream = stream or sys.stderr
        self.use_bar = self.stream.isatty() if use_bar is None else use_bar
        self.interval_s = interval_s
        self.started = time.monotonic()
        self.finished_here = 0
        self._next_report = self.started + interval_s
        self._last_refresh = 0.0
        self._bar = None
        if self.use_bar:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=already_done,
                desc="Collecting rollouts",
                unit="rollout",
                file=self.stream,
                dynamic_ncols=True,
                mininterval=BAR_REFRESH_INTERVAL_S,
            )

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.finished_here / elapsed if elapsed > 0 else 0.0

    def describe(self) -> str:
        mean = self.metrics.mean_reward
        mean_text = "n/a" if mean is None else f"{mean:.4f}"
        return (
            f"{self.done}/{self.total} rollouts ({format_rate(self.rate)}), mean reward {mean_text}, "
            f"{self.metrics.num_failed} failed"
        )

    def advance(self) -> None:
        self.done += 1
        self.finished_here += 1
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(1)
            if now - self._last_refresh >= BAR_REFRESH_INTERVAL_S:
                self._last_refresh = now
                mean = self.metrics.mean_reward
                self._bar.set_postfix_str(
                    f"mean reward {'n/a' if mean is None else f'{mean:.4f}'}, failed {self.metrics.num_failed}",
                    refresh=False,
                )
        elif now >= self._next_report:
            self._next_report = now + self.interval_s
            logger.info("Progress: %s", self.describe())

    def close(self) -> None:
        if self._bar is not None:
            mean = self.metrics.mean_reward
            self._bar.set_postfix_str(
                f"mean reward {'n/a' if mean is None else f'{mean:.4f}'}, failed {self.metrics.num_failed}",
                refresh=True,
            )
            self._bar.close()
            self._bar = None
        else:
            logger.info("Progress: %s", self.describe())


def format_rate(per_second: float) -> str:
    """Rollouts per second, or per minute when slow (a CPU model), so the figure is never shown as 0.0."""
    if per_second >= 1:
        return f"{per_second:.1f}/s"
    return f"{per_second * 60:.1f}/min"
