"""The FastAPI server base shared by resources servers, agents and model servers."""

import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from nemo_gym.bootstrap.environment import is_fastapi_worker, mark_fastapi_workers, session_secret
from nemo_gym.bootstrap.environment import is_fastapi_worker as is_nemo_gym_fastapi_worker
from nemo_gym.bootstrap.server_process import load_own_config, prepare_server_process, raise_open_files_limit
from nemo_gym.config.schema import BaseRunServerInstanceConfig
from nemo_gym.config.secrets import scrubber
from nemo_gym.config.shape import head_server_config_from
from nemo_gym.http.body_limit import max_request_body_bytes
from nemo_gym.http.error_responses import (
    MAX_LOGGED_BODY_CHARS,
    RepeatedErrorLog,
    describe_errors_for_log,
    json_bytes,
    short_repr,
    validation_error_content,
)
from nemo_gym.http.fast_routes import ServerApp
from nemo_gym.http.middleware import (
    ExceptionMiddleware,
    ServerMiddleware,
    log_unsuccessful_requests,
    take_over_access_log,
)
from nemo_gym.http.replica_routing import install_replica_session_tag
from nemo_gym.http.server_client import ServerClient

logger = logging.getLogger("nemo_gym.server")
_validation_log = RepeatedErrorLog(logger)

__all__ = ["BaseServer", "SimpleServer", "is_nemo_gym_fastapi_worker", "session_secret"]


class BaseServer(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: BaseRunServerInstanceConfig

    @classmethod
    def load_config_from_global_config(cls) -> BaseRunServerInstanceConfig:
        """This server's own config: its 3-level entry, resolved, with ``name`` injected."""
        from nemo_gym.global_config import get_global_config_dict

        config_class = cls.model_fields["config"].annotation
        return load_own_config(config_class, get_global_config_dict(), cls.__name__)


class SimpleServer(BaseServer):
    server_client: ServerClient

    @property
    def cookie_name(self) -> str:
        return f"{type(self).__name__}___{self.config.name}"

    def setup_webserver(self) -> FastAPI:
        raise NotImplementedError

    def error_answer(self, error: Exception, path: str) -> tuple[int, str]:
        """``(status, message)`` this server answers when ``error`` escapes its route ``path`` (logged as then);
        for a route called in-process that must fail as it would over HTTP."""
        return ExceptionMiddleware(None, server_label=self.cookie_name).answer(error, path)

    def create_app(self) -> FastAPI:
        """A FastAPI app with ``/health``, the per-instance session cookie and the error handlers."""
        app = ServerApp(title=self.cookie_name, lifespan=_close_http_session_on_shutdown)
        install_replica_session_tag(app)  # a replica keeps the sessions it creates (no-op elsewhere)
        app.add_middleware(
            ServerMiddleware,
            secret_key=session_secret(),
            session_cookie=self.cookie_name,
            server_label=self.cookie_name,
            max_bytes=max_request_body_bytes(self.server_client.global_config_dict),
        )

        async def health() -> dict[str, str]:
            return {"status": "ok", "name": self.config.name}

        app.get("/health")(health)

        async def validation_error(request: Request, error: RequestValidationError) -> Response:
            # Bounded whatever the body: a few hundred bytes of it in the log (rate-limited), short inputs in
            # the answer, and an encoder that takes integers beyond 64 bits and lone surrogates.
            errors = error.errors()
            _validation_log.log(
                logging.WARNING,
                f"422 {request.url.path}",
                "Hit validation exception on %s! Errors: %s Body starts with: %s",
                request.url.path,
                scrubber.scrub(describe_errors_for_log(errors)),
                scrubber.scrub(short_repr(error.body, MAX_LOGGED_BODY_CHARS)),
            )
            return Response(
                json_bytes(validation_error_content(errors)), status_code=422, media_type="application/json"
            )

        app.add_exception_handler(RequestValidationError, validation_error)
        return app

    @classmethod
    def run_webserver(cls) -> FastAPI:
        """Child entrypoint: build the server from ``NEMO_GYM_CONFIG_*`` and serve it with uvicorn."""
        from nemo_gym.global_config import get_global_config_dict

        global_config = get_global_config_dict()
        worker = is_fastapi_worker()
        prepare_server_process(global_config)
        config = cls.load_config_from_global_config()
        server = cls(
            config=config,
            server_client=ServerClient(
                head_server_config=head_server_config_from(global_config), global_config_dict=global_config
            ),
        )
        app = server.setup_webserver()
        show_200 = bool(global_config.get("uvicorn_logging_show_200_ok", False))
        if not show_200:
            # ServerMiddleware writes the non-200 access lines (uvicorn would build a record for every request).
            log_unsuccessful_requests()
        if worker:
            return app
        raise_open_files_limit(65535)
        import uvicorn

        kwargs: dict[str, Any] = {
            "host": config.host,
            "port": config.port,
            "timeout_graceful_shutdown": 0.5,
            "loop": "uvloop",
            "http": "httptools",
            "log_level": "info",
            "backlog": 16384,
            "timeout_keep_alive": 60,
        }
        if not show_200:
            logging.getLogger("uvicorn.access").addFilter(_Drop200Filter())
        if config.num_workers and config.num_workers > 1:
            # Workers share the session secret (so a cookie signed by one is valid in all) and rebuild the
            # same server from the same config; per-session state in memory is per worker.
            session_secret()
            mark_fastapi_workers(f"{sys.modules[cls.__module__].__file__}::{cls.__name__}")
            uvicorn.run("nemo_gym.http.worker_app:app", workers=config.num_workers, **kwargs)
        else:
            gc.freeze()  # what start-up built lives as long as the server: the collector need not scan it again
            uvicorn.run(app, **kwargs)
        return app


@contextlib.asynccontextmanager
async def _close_http_session_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    take_over_access_log()  # uvicorn has set up its loggers by now
    yield
    from nemo_gym.http.client import close_global_aiohttp_session

    await close_global_aiohttp_session()


class _Drop200Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) >= 5 and args[4] == 200)
