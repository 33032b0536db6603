"""One-shot collection: start the servers of a config, hand over, and stop them again."""

import contextlib
import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nemo_gym.config.loader import ParsedConfig, parse_config
from nemo_gym.config.ports import find_open_port
from nemo_gym.runtime.supervisor import Supervisor

logger = logging.getLogger("nemo_gym.rollouts")


def with_private_head_port(overrides: dict[str, Any]) -> dict[str, Any]:
    """Unless the command line sets ``head_server.port``, use a free one, so a running ng_run is no obstacle."""
    head = overrides.get("head_server")
    if isinstance(head, dict) and head.get("port"):
        return overrides
    result = copy.deepcopy(overrides)
    result["head_server"] = {**(head if isinstance(head, dict) else {}), "port": find_open_port()}
    return result


@contextlib.contextmanager
def started_servers(overrides: dict[str, Any], log_path: Path) -> Iterator[ParsedConfig]:
    """Start every server of ``overrides``' config (as ng_run would); their output goes to ``log_path``."""
    parsed = parse_config(with_private_head_port(overrides))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        supervisor = Supervisor(parsed, out=log)
        logger.info("Starting %d server(s); their output goes to %s", len(parsed.instances), log_path)
        try:
            supervisor.start()
            logger.info("All %d server(s) are ready", len(parsed.instances))
            yield parsed
            for child in supervisor.children:
                code = child.process.poll()
                if code is not None:
                    logger.error(
                        "Server %r exited with code %s during the collection; see %s",
                        child.instance.name,
                        code,
                        log_path,
                    )
        finally:
            logger.info("Stopping the servers")
            supervisor.shutdown()
