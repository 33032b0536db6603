"""Run a FastAPI app on a free loopback port for tests, and build servers without ng_run."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from fastapi import FastAPI
from omegaconf import OmegaConf

from nemo_gym.bootstrap.environment import server_child_env
from nemo_gym.config.ports import find_open_port
from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.config.shape import instance_fields
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


@contextlib.contextmanager
def run_entrypoint(
    server_dir: Path,
    instance: str,
    config: dict[str, Any],
    log_path: Path | None = None,
    timeout_s: float = 60.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run a server folder's ``app.py`` alone, as ng_run would (the two ``NEMO_GYM_CONFIG_*`` variables).

    ``config`` must give the instance an explicit host and port. Yields ``(base_url, process)`` once ``/health``
    answers; the server is interrupted on exit. Its output goes to ``log_path`` (a temporary file by default) and
    is quoted in the error if it never becomes healthy.
    """
    from nemo_gym.config.paths import repo_root

    fields = instance_fields(config, instance)
    url = f"http://{fields['host']}:{fields['port']}"
    env = server_child_env(
        os.environ,
        config_yaml=yaml.safe_dump(config),
        instance_name=instance,
        python_path=[str(server_dir), str(repo_root())],
    )
    log_path = log_path or Path(tempfile.mkstemp(prefix=f"{instance}_", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=server_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    state = f"exited with {process.returncode}" if process.poll() is not None else "not healthy"
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{instance} ({server_dir}) {state} after start:\n{tail}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            yield url, process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
