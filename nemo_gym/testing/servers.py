"""Run a FastAPI app on a free loopback port for tests, and build servers without ng_run."""

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from omegaconf import OmegaConf

from nemo_gym.config.ports import find_open_port
from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.http.server_client import ServerClient


@contextlib.contextmanager
def serve_app(
    app: FastAPI, host: str = "127.0.0.1", port: int | None = None, timeout_s: float = 30.0
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields ``http://host:port``; stops on exit."""
    port = port or find_open_port(host=host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    server.install_signal_handlers = lambda: None  # not the main thread
    thread = threading.Thread(target=server.run, name=f"serve_app:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"test server on {host}:{port} exited during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"test server on {host}:{port} did not start within {timeout_s}s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_server_client(
    servers: dict[str, str] | None = None, extra_config: dict[str, Any] | None = None
) -> ServerClient:
    """A ServerClient whose config maps instance names to base URLs (``{"policy_model": "http://127.0.0.1:1234"}``)."""
    config: dict[str, Any] = dict(extra_config or {})
    for name, url in (servers or {}).items():
        parsed = httpx.URL(url)
        config[name] = {"test_type": {"test_impl": {"host": parsed.host, "port": parsed.port, "entrypoint": "app.py"}}}
    return ServerClient(
        head_server_config=HeadServerConfig(host="127.0.0.1", port=0), global_config_dict=OmegaConf.create(config)
    )
