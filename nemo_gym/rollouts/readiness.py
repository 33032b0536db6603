"""Before the first row is sent: wait (bounded) until every server the rows need answers ``GET /health``.

``ng_collect_rollouts`` started a few seconds after ``ng_run`` would otherwise fail its first rows with
"connection refused". The servers needed are the rows' agents and, transitively, every server their config
refers to (``{type: ..., name: ...}`` references: the model, the resources server, a judge model).
"""

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from nemo_gym.config.paths import SERVER_TYPES
from nemo_gym.config.shape import find_instance_fields
from nemo_gym.errors import NeMoGymError
from nemo_gym.http.server_client import ServerClient

logger = logging.getLogger("nemo_gym.rollouts")

DEFAULT_SERVER_WAIT_S = 120.0
POLL_INTERVAL_S = 0.2
REPORT_INTERVAL_S = 5.0


class ServersNotReadyError(NeMoGymError):
    pass


def _refs(value: Any) -> Iterable[str]:
    if hasattr(value, "keys"):
        if value.get("type") in SERVER_TYPES and isinstance(value.get("name"), str):
            yield value["name"]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list | tuple) or (hasattr(value, "__iter__") and not isinstance(value, str | bytes)):
        for item in value:
            yield from _refs(item)


def needed_servers(config: Mapping[str, Any], agents: Iterable[str]) -> list[str]:
    """The agents and every server reachable from them through config references, in discovery order."""
    order: list[str] = []
    queue = list(agents)
    while queue:
        name = queue.pop(0)
        if name in order:
            continue
        fields = find_instance_fields(config, name)
        if fields is None:
            continue
        order.append(name)
        queue.extend(ref for ref in _refs(fields) if ref not in order)
    return order


async def wait_for_servers(client: ServerClient, names: list[str], timeout_s: float) -> None:
    """Return once each of ``names`` answers ``GET /health``; raise after ``timeout_s`` naming the rest."""
    pending = list(names)
    started = time.monotonic()
    next_report = started + REPORT_INTERVAL_S
    reported = False
    timeout = aiohttp.ClientTimeout(total=2.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while pending:
            results = await asyncio.gather(*(_healthy(session, client.base_url(name)) for name in pending))
            pending = [name for name, ok in zip(pending, results, strict=True) if not ok]
            if not pending:
                break
            now = time.monotonic()
            if now - started >= timeout_s:
                raise ServersNotReadyError(
                    f"servers not ready after {timeout_s:g}s (no answer to GET /health): {', '.join(pending)}. "
                    "Is ng_run still starting, or did a server fail? +server_wait_timeout_s sets the wait."
                )
            if not reported or now >= next_report:
                logger.info("Waiting for %d server(s) to answer /health: %s", len(pending), ", ".join(pending))
                reported = True
                next_report = now + REPORT_INTERVAL_S
            await asyncio.sleep(POLL_INTERVAL_S)
    if reported:
        logger.info("All %d servers the rows need are ready", len(names))


async def _healthy(session: aiohttp.ClientSession, base_url: str) -> bool:
    """Up when ``/health`` gets an HTTP answer below 500 (a server without that route still accepts requests)."""
    try:
        async with session.get(base_url + "/health") as response:
            return response.status < 500
    except (aiohttp.ClientError, TimeoutError):
        return False
