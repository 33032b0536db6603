"""``ng_viewer``: browse a rollout file in the browser (a local FastAPI page; no Gradio)."""

import logging

from pydantic import Field

from nemo_gym.cli.common import BaseNeMoGymCLIConfig, command, console, validate_command_config
from nemo_gym.config.cli_overrides import parse_overrides
from nemo_gym.config.ports import find_open_port
from nemo_gym.errors import NeMoGymError

DEFAULT_VIEWER_HOST = "127.0.0.1"
DEFAULT_VIEWER_PORT = 7860


class JsonlDatasetViewerConfig(BaseNeMoGymCLIConfig):
    """Show the rollouts of a JSONL file one by one, with filters by reward and text search."""

    jsonl_fpath: str = Field(description="rollout file, e.g. the output of ng_collect_rollouts")
    server_host: str | None = Field(default=None, description=f"address to listen on (default {DEFAULT_VIEWER_HOST})")
    server_port: int | None = Field(
        default=None, description=f"port (default {DEFAULT_VIEWER_PORT}, or the next free one)"
    )


def _free_port_from(host: str, start: int) -> int:
    import socket

    for port in range(start, start + 100):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    return find_open_port(host=host)


@command
def viewer_main() -> int:
    from pathlib import Path

    import uvicorn

    from nemo_gym.rollouts.viewer import build_viewer_app

    config = validate_command_config(JsonlDatasetViewerConfig, parse_overrides())
    path = Path(config.jsonl_fpath)
    if not path.is_file():
        raise NeMoGymError(f"jsonl_fpath: file not found: {path}")
    host = config.server_host or DEFAULT_VIEWER_HOST
    port = config.server_port or _free_port_from(host, DEFAULT_VIEWER_PORT)
    app = build_viewer_app(path)
    console.print(f"Viewing {path} at http://{host}:{port}  (Ctrl+C to stop)", markup=False)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
