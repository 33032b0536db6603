"""Collecting rollouts against the servers of a head server: the ``ng_collect_rollouts`` parameters and the
helper trainers use (public through :mod:`nemo_gym.rollout_collection`)."""

import asyncio
from collections.abc import Awaitable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field

from nemo_gym.config.command_config import BaseNeMoGymCLIConfig
from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.config.shape import connectable_host
from nemo_gym.http.retry_policy import configure_http_client
from nemo_gym.http.server_client import HeadServerUnreachableError, ServerClient, get_response_json, raise_for_status
from nemo_gym.rollouts.collection import (
    DEFAULT_MAX_IN_FLIGHT,
    CollectionResult,
    CollectionSettings,
    InputRowsError,
    RolloutCollector,
    agent_names,
    check_input,
)
from nemo_gym.rollouts.fail_fast import DEFAULT_MAX_CONSECUTIVE_CONNECTION_FAILURES
from nemo_gym.rollouts.metrics import DEFAULT_PASS_THRESHOLD
from nemo_gym.rollouts.readiness import DEFAULT_SERVER_WAIT_S

HTTP_CLIENT_KEYS = ("http_client", "global_aiohttp_connector_limit", "global_aiohttp_connector_limit_per_host")


class RolloutCollectionConfig(BaseNeMoGymCLIConfig):
    """Collect rollouts: send every row of an input JSONL file to an agent's /run and write the results.

    Servers must be running (ng_run), or give +config_paths=[...] to start them for this collection only.
    """

    agent_name: str | None = Field(
        default=None, description="agent instance for every row; otherwise each row's agent_ref.name"
    )
    input_jsonl_fpath: str = Field(description="input rows (JSONL with responses_create_params)")
    output_jsonl_fpath: str = Field(description="where results are appended, one JSON line per rollout")
    limit: int | None = Field(default=None, ge=0, description="only the first N rows (0 or null: all)")
    num_repeats: int | None = Field(default=None, ge=1, description="rollouts per row, consecutive (aabbcc)")
    num_samples_in_parallel: int | None = Field(
        default=None, ge=1, description=f"rollouts in flight at once (default {DEFAULT_MAX_IN_FLIGHT})"
    )
    responses_create_params: dict[str, Any] = Field(
        default_factory=dict, description="fields merged over each row's responses_create_params"
    )
    resume: bool = Field(
        default=False,
        validation_alias=AliasChoices("resume", "resume_from_cache"),  # the newer reference's spelling
        description="skip (row, repeat) pairs already in the output (also +resume_from_cache=true)",
    )
    overwrite: bool = Field(default=False, description="delete an existing output and start over")
    pass_threshold: float = Field(
        default=DEFAULT_PASS_THRESHOLD, description="a rollout passes (for pass@k) when reward >= this"
    )
    progress_bar: bool | None = Field(default=None, description="force the progress bar on or off (default: TTY)")
    config_paths: list[str] | None = Field(
        default=None, description="one-shot mode: start these configs' servers, collect, stop them"
    )
    max_consecutive_connection_failures: int = Field(
        default=DEFAULT_MAX_CONSECUTIVE_CONNECTION_FAILURES,
        ge=0,
        description="stop dispatching after this many identical connection failures in a row (0: never)",
    )
    server_wait_timeout_s: float = Field(
        default=DEFAULT_SERVER_WAIT_S,
        ge=0,
        description="wait up to this long for the servers the rows need to answer /health (0: don't wait)",
    )

    def to_settings(self) -> CollectionSettings:
        return CollectionSettings(
            input_path=Path(self.input_jsonl_fpath),
            output_path=Path(self.output_jsonl_fpath),
            agent_name=self.agent_name or None,
            limit=self.limit or None,
            num_repeats=self.num_repeats or 1,
            max_in_flight=self.num_samples_in_parallel or DEFAULT_MAX_IN_FLIGHT,
            overrides=dict(self.responses_create_params),
            resume=self.resume,
            overwrite=self.overwrite,
            pass_threshold=self.pass_threshold,
            progress_bar=self.progress_bar,
            max_consecutive_connection_failures=self.max_consecutive_connection_failures,
            server_wait_timeout_s=self.server_wait_timeout_s,
        )


def _connectable(head: HeadServerConfig) -> HeadServerConfig:
    return HeadServerConfig(host=connectable_host(head.host), port=head.port)


def _local_config() -> Any:
    """This process's config if it has one (a RunHelper started here, or a server child); never parses argv,
    which inside a trainer's Ray actor belongs to Ray. Without one, the head server's settings apply."""
    from nemo_gym.global_config import peek_global_config_dict

    return peek_global_config_dict() or {}


class RolloutCollectionHelper:
    """Collects rollouts against the servers known to a head server."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, int], ServerClient] = {}

    def setup_server_client(self, head_server_config: HeadServerConfig | None = None) -> ServerClient:
        """A client for the head's servers; the HTTP client takes its limits and retry policy from the config."""
        head = _connectable(head_server_config or ServerClient.load_head_server_config())
        key = (head.host, head.port)
        client = self._clients.get(key)
        if client is None:
            client = ServerClient.load_from_global_config(head)
            local = _local_config()
            settings = {}
            for name in HTTP_CLIENT_KEYS:
                value = local.get(name) if hasattr(local, "get") else None
                settings[name] = value if value is not None else client.global_config_dict.get(name)
            configure_http_client(settings)
            self._clients[key] = client
        return client

    async def run_from_config(
        self, config: RolloutCollectionConfig, head_server_config: HeadServerConfig | None = None
    ) -> CollectionResult:
        settings = config.to_settings()
        try:
            scan = check_input(settings, known_agents=None)  # bad lines are found before any rollout is sent
        except InputRowsError as problems:
            try:
                client = await asyncio.to_thread(self.setup_server_client, head_server_config)
            except HeadServerUnreachableError:
                raise problems from None
            check_input(settings, agent_names(client.global_config_dict))  # the full report, agents included
            raise
        client = await asyncio.to_thread(self.setup_server_client, head_server_config)
        known_agents = agent_names(client.global_config_dict)
        if not set(scan.rows_per_agent) <= known_agents:
            check_input(settings, known_agents)  # raises, naming every line with an unknown agent
        collector = RolloutCollector(settings, client, known_agents)
        return await collector.run(scan)

    def run_examples(
        self, examples: Iterable[dict[str, Any]], head_server_config: HeadServerConfig | None = None
    ) -> Iterator[Awaitable[tuple[dict[str, Any], dict[str, Any]]]]:
        """Send each row to its ``agent_ref.name``'s ``/run``; yields awaitables of ``(row, result)`` as they finish.

        Call it from a running event loop: ``for task in helper.run_examples(rows): row, result = await task``.
        A row whose rollout fails (after the retry policy) raises when its awaitable is awaited.
        """
        client = self.setup_server_client(head_server_config)

        async def run_one(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            response = await client.post(row["agent_ref"]["name"], "/run", json=row)
            await raise_for_status(response)
            return row, await get_response_json(response)

        return asyncio.as_completed([run_one(row) for row in examples])


def run_examples(
    examples: Iterable[dict[str, Any]], head_server_config: HeadServerConfig | None = None
) -> Iterator[Awaitable[tuple[dict[str, Any], dict[str, Any]]]]:
    """``RolloutCollectionHelper().run_examples(...)`` for callers that need no helper of their own."""
    return RolloutCollectionHelper().run_examples(examples, head_server_config)
