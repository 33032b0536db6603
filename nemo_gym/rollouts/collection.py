"""The collection engine: stream input rows to agents' ``/run``, write each result the moment it finishes.

Guarantees: at most ``max_in_flight`` rollouts are pending (the input is read as they finish, never loaded
whole); each result is one complete line written with a single system call; a (row, repeat) that still fails
after the retry policy goes to ``<output>.failures.jsonl`` and the run goes on; with ``resume`` the pairs
already in the output are skipped, so killing and resuming yields exactly one line per pair.
"""

import asyncio
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from nemo_gym.errors import NeMoGymError
from nemo_gym.http.retry_policy import default_retry_policy
from nemo_gym.http.server_client import ServerClient
from nemo_gym.rollouts.fail_fast import DEFAULT_MAX_CONSECUTIVE_CONNECTION_FAILURES, ConnectionFailureRun
from nemo_gym.rollouts.input_rows import (
    ROLLOUT_META_KEY,
    InputLine,
    InputRowsError,
    InputScan,
    iter_input_lines,
    parse_row,
    row_agent_name,
    scan_input,
)
from nemo_gym.rollouts.metrics import DEFAULT_PASS_THRESHOLD, RolloutMetrics
from nemo_gym.rollouts.progress import CollectionProgress
from nemo_gym.rollouts.readiness import DEFAULT_SERVER_WAIT_S, needed_servers, wait_for_servers
from nemo_gym.rollouts.resume import (
    DoneSet,
    LineWriter,
    count_previous_failures,
    failures_path_for,
    metrics_path_for,
    scan_output,
)

logger = logging.getLogger("nemo_gym.rollouts")

# Without num_samples_in_parallel the run is "unbounded" as in the reference, but still streamed: this many
# rollouts may be pending at once (the HTTP connector's per-host limit applies on top).
DEFAULT_MAX_IN_FLIGHT = 16384
JSON_HEADERS = {"Content-Type": "application/json"}
MAX_ERROR_CHARS = 2000


class OutputExistsError(NeMoGymError):
    pass


def check_input(settings: "CollectionSettings", known_agents: Collection[str] | None) -> "InputScan":
    """The input file exists and every line can be collected (agents checked when ``known_agents`` is given)."""
    if not settings.input_path.is_file():
        raise NeMoGymError(f"input_jsonl_fpath: file not found: {settings.input_path}")
    scan = scan_input(
        settings.input_path, limit=settings.limit, agent_name=settings.agent_name, known_agents=known_agents
    )
    if scan.num_problems:
        raise InputRowsError(scan.describe_problems(settings.input_path))
    return scan


@dataclass
class CollectionSettings:
    input_path: Path
    output_path: Path
    agent_name: str | None = None
    limit: int | None = None
    num_repeats: int = 1
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    overrides: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    overwrite: bool = False
    pass_threshold: float = DEFAULT_PASS_THRESHOLD
    progress_bar: bool | None = None  # None: a bar on a terminal, plain lines otherwise
    # Stop dispatching after this many identical connection failures in a row (None or 0: never).
    max_consecutive_connection_failures: int | None = DEFAULT_MAX_CONSECUTIVE_CONNECTION_FAILURES
    # Wait this long for the servers the rows need to answer /health before the first row (0: don't wait).
    server_wait_timeout_s: float = DEFAULT_SERVER_WAIT_S


@dataclass
class CollectionResult:
    output_path: Path
    failures_path: Path
    metrics_path: Path
    num_rows: int
    num_collected: int  # in this run
    num_failed: int  # in this run
    num_skipped: int  # already in the output (resume)
    metrics: dict[str, Any]
    stopped_reason: str | None = None  # set when the collection stopped early (rows are left for +resume=true)


class _RolloutError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def agent_names(global_config: Mapping[str, Any]) -> set[str]:
    """Instance names of the agents (``responses_api_agents``) of a global config."""
    names = set()
    for name, value in global_config.items():
        if hasattr(value, "keys") and "responses_api_agents" in value:
            names.add(str(name))
    return names


def loads_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # integers beyond 64 bits; raises for real syntax errors


def dumps_json(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


class RolloutCollector:
    def __init__(
        self, settings: CollectionSettings, server_client: ServerClient, known_agents: Collection[str] | None = None
    ) -> None:
        self.settings = settings
        self.client = server_client
        self.known_agents = known_agents
        self.metrics = RolloutMetrics(pass_threshold=settings.pass_threshold)
        self.failures_path = failures_path_for(settings.output_path)
        self.metrics_path = metrics_path_for(settings.output_path)
        self.num_collected = 0
        self.num_failed = 0
        self._output: LineWriter | None = None
        self._failures: LineWriter | None = None
        self._progress: CollectionProgress | None = None
        self._failure_run = ConnectionFailureRun(settings.max_consecutive_connection_failures)

    async def run(self, scan: InputScan | None = None) -> CollectionResult:
        """Collect every row; ``scan`` is the input's scan when the caller made it already (read once)."""
        settings = self.settings
        scan = scan or check_input(settings, self.known_agents)
        logger.info("Found %d rows in %s", scan.num_rows, settings.input_path)
        if settings.num_repeats > 1:
            logger.info(
                "Repeating each row %d times (abc -> aabbcc): %d rollouts",
                settings.num_repeats,
                scan.num_rows * settings.num_repeats,
            )
        if settings.overrides:
            logger.info("Overriding responses_create_params fields with %s", settings.overrides)

        if settings.server_wait_timeout_s > 0:
            await wait_for_servers(
                self.client,
                needed_servers(self.client.global_config_dict, scan.rows_per_agent),
                settings.server_wait_timeout_s,
            )
        done = DoneSet(scan.num_rows, settings.num_repeats)
        self._prepare_output(done)
        total = scan.num_rows * settings.num_repeats
        num_skipped = done.count
        self._output = LineWriter(settings.output_path)
        self._failures = LineWriter(self.failures_path)
        self._progress = CollectionProgress(total, num_skipped, self.metrics, use_bar=settings.progress_bar)
        try:
            await self._collect(done)
        finally:
            self._progress.close()
            self._output.close()
            self._failures.close()
            if self.num_failed == 0 and self.failures_path.stat().st_size == 0:
                self.failures_path.unlink()

        summary = self.metrics.summary(settings.num_repeats)
        summary = {
            "input_jsonl_fpath": str(settings.input_path),
            "output_jsonl_fpath": str(settings.output_path),
            "num_rows": scan.num_rows,
            "num_repeats": settings.num_repeats,
            **summary,
        }
        self.metrics_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
        return CollectionResult(
            output_path=settings.output_path,
            failures_path=self.failures_path,
            metrics_path=self.metrics_path,
            num_rows=scan.num_rows,
            num_collected=self.num_collected,
            num_failed=self.num_failed,
            num_skipped=num_skipped,
            metrics=summary,
            stopped_reason=self._failure_run.reason() if self._failure_run.tripped else None,
        )

    def _prepare_output(self, done: DoneSet) -> None:
        settings = self.settings
        output = settings.output_path
        has_output = output.exists() and output.stat().st_size > 0
        if settings.overwrite:
            for path in (output, self.failures_path):
                if path.exists():
                    path.unlink()
            return
        if settings.resume:
            scan = scan_output(output, done, on_row=self.metrics.add)
            to_retry = count_previous_failures(self.failures_path, done)
            logger.info(
                "Resuming: %d of %d rollouts are already in %s%s",
                done.count,
                done.num_rows * done.num_repeats,
                output,
                f"; retrying {to_retry} that failed before" if to_retry else "",
            )
            if scan.num_duplicates:
                logger.warning("%s holds %d duplicate (row, repeat) lines", output, scan.num_duplicates)
        elif has_output:
            raise OutputExistsError(
                f"output_jsonl_fpath {output} already holds rollouts: pass +resume=true to continue that run, or "
                "+overwrite=true to start it over"
            )
        # The failures file always describes the current run: earlier failures are retried below.
        if self.failures_path.exists():
            self.failures_path.unlink()

    async def _collect(self, done: DoneSet) -> None:
        settings = self.settings
        slots = asyncio.Semaphore(settings.max_in_flight)
        pending: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            pending.discard(task)
            slots.release()

        try:
            for line in iter_input_lines(settings.input_path, settings.limit):
                repeats = [repeat for repeat in range(settings.num_repeats) if (line.row_index, repeat) not in done]
                if self._failure_run.tripped:
                    break
                if not repeats:
                    continue
                body, agent, problem = self._request_body(line)
                for repeat in repeats:
                    await slots.acquire()
                    if self._failure_run.tripped:
                        slots.release()
                        break
                    if body is None or agent is None:
                        self._record_failure(line, repeat, agent, problem or "invalid row", None)
                        slots.release()
                        continue
                    task = asyncio.create_task(self._run_one(line, repeat, agent, body))
                    pending.add(task)
                    task.add_done_callback(finished)
            if pending:
                await asyncio.gather(*pending)
        finally:
            for task in pending:
                task.cancel()

    def _request_body(self, line: InputLine) -> tuple[bytes | None, str | None, str | None]:
        """The row as sent to ``/run`` (serialised once for all its repeats), its agent, or why it can't be sent."""
        row, problem = parse_row(line.raw)
        if row is None:  # the file changed since it was checked
            return None, None, problem
        agent = row_agent_name(row, self.settings.agent_name)
        if agent is None:
            return None, None, "no agent for this row"
        row.pop(ROLLOUT_META_KEY, None)
        if self.settings.overrides:
            row["responses_create_params"] = {**row["responses_create_params"], **self.settings.overrides}
        return dumps_json(row), agent, None

    async def _run_one(self, line: InputLine, repeat: int, agent: str, body: bytes) -> None:
        try:
            result = await self._post_run(agent, body)
        except _RolloutError as error:
            self._record_failure(line, repeat, agent, str(error), error.status)
            self._count_failure(str(error), error.status)
            return
        except Exception as error:  # transport errors after the retry budget, a dead agent, ...
            message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            self._record_failure(line, repeat, agent, message, None)
            self._count_failure(message, None)
            return
        result[ROLLOUT_META_KEY] = {"row_index": line.row_index, "repeat": repeat, "agent": agent}
        self._output.write_line(dumps_json(result))
        self.num_collected += 1
        self._failure_run.success()
        self.metrics.add(result)
        self._progress.advance()

    async def _post_run(self, agent: str, body: bytes) -> dict[str, Any]:
        # An agent's 502/504 already carries the retries done behind it; a rollout is not re-run for it.
        response = await self.client.post(
            agent, "/run", data=body, headers=JSON_HEADERS, policy=default_retry_policy().for_gym_server()
        )
        try:
            payload = await response.read()
        finally:
            response.release()
        if response.status >= 400:
            text = payload.decode(errors="replace")[:MAX_ERROR_CHARS]
            raise _RolloutError(f"HTTP {response.status} from {agent} /run: {text}", response.status)
        try:
            result = loads_json(payload)
        except ValueError as error:
            raise _RolloutError(f"{agent} /run returned invalid JSON: {error}", response.status) from None
        if not isinstance(result, dict):
            raise _RolloutError(f"{agent} /run returned {type(result).__name__}, expected a JSON object")
        return result

    def _count_failure(self, message: str, status: int | None) -> None:
        if self._failure_run.failure(message, status):
            logger.error("%s", self._failure_run.reason())

    def _record_failure(self, line: InputLine, repeat: int, agent: str | None, error: str, status: int | None) -> None:
        entry = {
            "row_index": line.row_index,
            "repeat": repeat,
            "line_number": line.line_number,
            "agent": agent,
            "status": status,
            "error": error[:MAX_ERROR_CHARS],
        }
        self._failures.write_line(orjson.dumps(entry))
        self.num_failed += 1
        self.metrics.add_failure()
        self._progress.advance()
        if self.num_failed <= 5:
            logger.warning("Rollout of row %d (repeat %d) failed: %s", line.row_index, repeat, entry["error"][:300])
        elif self.num_failed == 6:
            logger.warning("Further failures are only written to %s", self.failures_path)
