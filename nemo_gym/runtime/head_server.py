"""The head server: config discovery for trainers and clients (``/global_config_dict_yaml``, ``/server_instances``)."""

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
import yaml
from fastapi import FastAPI

from nemo_gym.config.secrets import mask_secrets
from nemo_gym.errors import SupervisorError


@dataclass
class ServerInstanceRecord:
    """One spawned server, as ``/server_instances`` shows it (the reference's display record fields)."""

    process_name: str
    server_type: str
    name: str
    dir_path: str
    entrypoint: str
    host: str | None
    port: int | None
    pid: int | None
    start_time: float
    status: str | None = None
    uptime_seconds: float | None = None

    @property
    def url(self) -> str | None:
        return f"http://{self.host}:{self.port}" if self.host and self.port else None

    def as_json(self) -> dict[str, Any]:
        return {
            "config_path": self.process_name,
            "dir_path": self.dir_path,
            "entrypoint": self.entrypoint,
            "host": self.host,
            "name": self.name,
            "pid": self.pid,
            "port": self.port,
            "process_name": self.process_name,
            "server_type": self.server_type,
            "start_time": self.start_time,
            "status": self.status,
            "uptime_seconds": self.uptime_seconds,
            "url": self.url,
        }


@dataclass
class HeadServerState:
    config: dict[str, Any]
    records: list[ServerInstanceRecord] = field(default_factory=list)


def build_head_app(state: HeadServerState) -> FastAPI:
    app = FastAPI(title="NeMo Gym head server")

    @app.get("/global_config_dict_yaml")
    def global_config_dict_yaml() -> str:
        # A JSON string holding YAML, as the reference serves it; secrets are masked.
        return yaml.safe_dump(mask_secrets(state.config), sort_keys=False)

    @app.get("/server_instances")
    def server_instances() -> list[dict[str, Any]]:
        return [mask_secrets(record.as_json()) for record in state.records]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "servers": len(state.records)}

    return app


class HeadServer:
    """uvicorn in a daemon thread of the ng_run process."""

    def __init__(self, state: HeadServerState, host: str, port: int) -> None:
        self.state = state
        self.host, self.port = host, port
        config = uvicorn.Config(build_head_app(state), host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None
        self._thread = threading.Thread(target=self._server.run, name="head_server", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise SupervisorError(f"head_server: could not serve on {self.host}:{self.port} (is the port taken?)")
            if time.monotonic() > deadline:
                raise SupervisorError(f"head_server: not up on {self.host}:{self.port} after {timeout_s}s")
            time.sleep(0.02)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
