"""``ServerInstanceDisplayConfig``: one row of the head server's ``/server_instances`` and of ``ng_status``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from nemo_gym.http.server_client import ServerStatus


class ServerInstanceDisplayConfig(BaseModel):
    """Every field is optional, as in the reference; ``status`` and ``uptime_seconds`` are filled by ng_status."""

    config_path: str | None = None
    dir_path: Path | None = None
    entrypoint: str | None = None
    host: str | None = None
    name: str | None = None
    pid: int | None = None
    port: int | None = None
    process_name: str | None = None
    server_type: str | None = None
    start_time: float | None = None
    status: ServerStatus | None = None
    uptime_seconds: float | None = None
    url: str | None = None
