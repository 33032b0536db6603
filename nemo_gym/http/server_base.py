"""The FastAPI server base shared by resources servers, agents and model servers."""

import contextlib
import logging
import os
import resource
import secrets
import sys
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, ValidationError

from nemo_gym.config.schema import BaseRunServerInstanceConfig
from nemo_gym.config.secrets import install_log_scrubbing, scrubber
from nemo_gym.http.body_limit import RequestSizeLimitMiddleware, max_request_body_bytes
from nemo_gym.http.error_responses import (
    MAX_LOGGED_BODY_CHARS,
    RepeatedErrorLog,
    describe_errors_for_log,
    json_bytes,
    short_repr,
    validation_error_content,
)
from nemo_gym.http.middleware import ExceptionMiddleware, SessionMiddleware
from nemo_gym.http.server_client import ServerClient

logger = logging.getLogger("nemo_gym.server")
_validation_log = RepeatedErrorLog(logger)
# No single log record of a server is longer than this (a traceback fits; a request body does not).
MAX_LOG_RECORD_CHARS = 8000

SESSION_SECRET_ENV = "NEMO_GYM_SESSION_SECRET"
WORKER_ENV = "IS_NEMO_GYM_FASTAPI_WORKER"
WORKER_SERVER_ENV = "NEMO_GYM_WORKER_SERVER"


def is_nemo_gym_fastapi_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def session_secret() -> str:
    """The per-run signing secret handed down by ng_run; a standalone server makes its own (shared by workers)."""
    secret = os.environ.get(SESSION_SECRET_ENV)
    if not secret:
        secret = secrets.token_urlsafe(32)
        os.environ[SESSION_SECRET_ENV] = secret
    return secret


class BaseServer(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: BaseRunServerInstanceConfig

    @classmethod
    def load_config_from_global_config(cls) -> BaseRunServerInstanceConfig:
        """This server's own config: its 3-level entry, resolved, with ``name`` injected."""
        from nemo_gym.global_config import (
            NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME,
            get_first_server_config_dict,
            get_global_config_dict,
        )

        name = os.environ.get(NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME)
        if not name:
            raise SystemExit(f"{NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME} must name this server's instance")
        global_config = get_global_config_dict()
        if name not in global_config:
            raise SystemExit(f"{NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME}={name!r} is not an instance of the config")
        fields = get_first_server_config_dict(global_config, name)
        plain = OmegaConf.to_container(fields, resolve=True) if isinstance(fields, DictConfig) else dict(fields)
        plain["name"] = name
        config_class = cls.model_fields["config"].annotation
        try:
            return config_class.model_validate(plain)
        except ValidationError as error:
            # One line per problem, naming the config path, instead of a traceback in ng_run's crash report.
            where = f"{name}.{'.'.join(str(key) for key in _server_path(global_config, name))}"
            problems = "; ".join(
                f"{where}.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise SystemExit(f"Invalid config for {cls.__name__}: {problems}") from None


def _server_path(global_config: Any, name: str) -> list[str]:
    level_one = global_config[name]
    server_type = next(iter(level_one))
    return [server_type, next(iter(level_one[server_type]))]


class SimpleServer(BaseServer):
    server_client: ServerClient

    # Families set this to their routes' owner label; the cookie and error messages use it.
    _family: ClassVar[str] = "server"

    @property
    def cookie_name(self) -> str:
        return f"{type(self).__name__}___{self.config.name}"

    def setup_webserver(self) -> FastAPI:
        raise NotImplementedError

    def create_app(self) -> FastAPI:
        """A FastAPI app with ``/health``, the per-instance session cookie and the error handlers."""
        app = FastAPI(title=self.cookie_name, lifespan=_close_http_session_on_shutdown)
        app.add_middleware(SessionMiddleware, secret_key=session_secret(), session_cookie=self.cookie_name)
        app.add_middleware(ExceptionMiddleware, server_label=self.cookie_name)
        app.add_middleware(
            RequestSizeLimitMiddleware, max_bytes=max_request_body_bytes(self.server_client.global_config_dict)
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
        from nemo_gym.http.client import configure_http_client
        from nemo_gym.runtime.ray_setup import initialize_ray

        global_config = get_global_config_dict()
        worker = is_nemo_gym_fastapi_worker()
        _configure_logging(global_config)
        configure_http_client(global_config)
        initialize_ray(global_config)
        config = cls.load_config_from_global_config()
        server = cls(
            config=config,
            server_client=ServerClient(
                head_server_config=ServerClient.load_head_server_config(), global_config_dict=global_config
            ),
        )
        app = server.setup_webserver()
        if worker:
            return app
        _raise_open_files_limit(65535)
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
        if not global_config.get("uvicorn_logging_show_200_ok", False):
            logging.getLogger("uvicorn.access").addFilter(_Drop200Filter())
        if config.num_workers and config.num_workers > 1:
            # Workers share the session secret (so a cookie signed by one is valid in all) and rebuild the
            # same server from the same config; per-session state in memory is per worker.
            session_secret()
            os.environ[WORKER_ENV] = "1"
            os.environ[WORKER_SERVER_ENV] = f"{sys.modules[cls.__module__].__file__}::{cls.__name__}"
            uvicorn.run("nemo_gym.http.worker_app:app", workers=config.num_workers, **kwargs)
        else:
            uvicorn.run(app, **kwargs)
        return app


@contextlib.asynccontextmanager
async def _close_http_session_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    yield
    from nemo_gym.http.client import close_global_aiohttp_session

    await close_global_aiohttp_session()


class _Drop200Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) >= 5 and args[4] == 200)


def _configure_logging(global_config: Any) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    try:
        plain = OmegaConf.to_container(global_config, resolve=True)
    except Exception:  # an unrelated unresolvable interpolation must not stop the server
        plain = OmegaConf.to_container(global_config, resolve=False)
    install_log_scrubbing(plain)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(item, _TruncatingFilter) for item in handler.filters):
            handler.addFilter(_TruncatingFilter())


class _TruncatingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own problem to report
            return True
        if len(message) > MAX_LOG_RECORD_CHARS:
            cut = len(message) - MAX_LOG_RECORD_CHARS
            record.msg, record.args = f"{message[:MAX_LOG_RECORD_CHARS]}... ({cut} characters cut)", None
        return True


def _raise_open_files_limit(target: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < target:
        new_soft = target if hard == resource.RLIM_INFINITY else min(target, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        except (ValueError, OSError) as error:
            logger.warning("Could not raise the open-files limit from %d to %d: %s", soft, new_soft, error)
