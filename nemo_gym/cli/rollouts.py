"""``ng_collect_rollouts``: send an input file's rows to agents and write the scored rollouts."""

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.table import Table

from nemo_gym.cli.common import command, console, validate_command_config
from nemo_gym.config.cli_overrides import parse_overrides
from nemo_gym.config.loader import parse_config, resolve_subtree
from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.global_config import set_global_config_dict
from nemo_gym.http.client import close_global_aiohttp_session
from nemo_gym.rollout_collection import CollectionResult, RolloutCollectionConfig, RolloutCollectionHelper

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed (it is with uvicorn[standard]), else on asyncio's loop."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)


def _command_parameters(config: dict[str, Any]) -> dict[str, Any]:
    """The command's own keys, resolved (other keys may hold interpolations only the servers need)."""
    names = set(RolloutCollectionConfig.model_fields) | {"h", "help"}
    return {key: resolve_subtree(config, key) for key in config if key in names}


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl+C: servers of one-shot mode are stopped, written lines stay


async def _collect(config: RolloutCollectionConfig, head: HeadServerConfig) -> CollectionResult:
    try:
        return await RolloutCollectionHelper().run_from_config(config, head)
    finally:
        await close_global_aiohttp_session()


def print_summary(result: CollectionResult) -> None:
    metrics = result.metrics
    table = Table(title="Rollout collection summary", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("rollouts in the output", str(metrics["num_rollouts"]))
    table.add_row("collected now / skipped (resume)", f"{result.num_collected} / {result.num_skipped}")
    table.add_row("failed now", str(result.num_failed))
    mean = metrics["mean_reward"]
    table.add_row("mean reward", "n/a" if mean is None else f"{mean:.4f}")
    for agent, value in metrics["mean_reward_by_agent"].items():
        table.add_row(f"  mean reward of {agent}", "n/a" if value is None else f"{value:.4f}")
    for key, value in metrics["averages"].items():
        if key != "reward":
            table.add_row(f"average {key}", f"{value:.4f}")
    for key in [key for key in metrics if key.startswith("pass@")]:
        table.add_row(key, f"{metrics[key]:.4f}")
    console.print(table)
    console.print(f"Rollouts: {result.output_path}", markup=False)
    console.print(f"Metrics:  {result.metrics_path}", markup=False)
    if result.stopped_reason:
        console.print(result.stopped_reason, markup=False)
    elif result.num_failed:
        console.print(
            f"{result.num_failed} rollout(s) failed; see {result.failures_path}. Run again with +resume=true to "
            "retry them.",
            markup=False,
        )


@command
def collect_main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    overrides = parse_overrides()
    if overrides.get("h") or overrides.get("help"):
        validate_command_config(RolloutCollectionConfig, overrides)
    # Parameters are checked before any server is started.
    parsed = parse_config(overrides)
    config = validate_command_config(RolloutCollectionConfig, _command_parameters(parsed.config))
    servers: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(None)
    if config.config_paths:
        from nemo_gym.rollouts.one_shot import started_servers  # ng_run's machinery, only for this mode

        output = Path(config.output_jsonl_fpath)
        servers = started_servers(overrides, output.with_name(output.name + ".servers.log"))
    with servers as started:
        parsed = started or parsed
        set_global_config_dict(parsed.config)
        head = HeadServerConfig(**{key: parsed.config["head_server"][key] for key in ("host", "port")})
        result = run_async(_collect(config, head))
    print_summary(result)
    return 1 if result.num_failed or result.stopped_reason else 0
