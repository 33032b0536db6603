"""Setting up a server process before it serves: logging with secret scrubbing, HTTP-client settings, Ray, and
reading its own config entry.

:meth:`nemo_gym.http.server_base.SimpleServer.run_webserver` calls these in order; a trainer or a test that builds
a server in its own process may call them too.
"""

import logging
import resource
import sys
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ValidationError

from nemo_gym.bootstrap.environment import CONFIG_PATH_ENV, own_instance_name
from nemo_gym.bootstrap.ray_connection import point_at_run_cluster
from nemo_gym.config.secrets import install_log_scrubbing
from nemo_gym.config.shape import instance_fields, instance_path

logger = logging.getLogger("nemo_gym.server")

# No single log record of a server is longer than this (a traceback fits; a request body does not).
MAX_LOG_RECORD_CHARS = 8000


def prepare_server_process(global_config: Any) -> None:
    """Logging (scrubbed of the config's secrets, records bounded), the HTTP client's limits and retry policy,
    and where the run's Ray cluster is (joined only when this server first needs it)."""
    from nemo_gym.http.retry_policy import configure_http_client

    configure_logging(global_config)
    configure_http_client(global_config)
    point_at_run_cluster(global_config)


def load_own_config(config_class: type[BaseModel], global_config: Any, server_label: str) -> BaseModel:
    """This process's instance entry (named by ``NEMO_GYM_CONFIG_PATH``), resolved, with ``name`` injected,
    validated as ``config_class``. A missing name or an invalid entry exits with one line naming the config path.
    """
    name = own_instance_name()
    if not name:
        raise SystemExit(f"{CONFIG_PATH_ENV} must name this server's instance")
    if name not in global_config:
        raise SystemExit(f"{CONFIG_PATH_ENV}={name!r} is not an instance of the config")
    fields = instance_fields(global_config, name)
    plain = OmegaConf.to_container(fields, resolve=True) if isinstance(fields, DictConfig) else dict(fields)
    plain["name"] = name
    try:
        return config_class.model_validate(plain)
    except ValidationError as error:
        # One line per problem, naming the config path, instead of a traceback in ng_run's crash report.
        where = ".".join(instance_path(global_config, name))
        problems = "; ".join(
            f"{where}.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise SystemExit(f"Invalid config for {server_label}: {problems}") from None


def configure_logging(global_config: Any) -> None:
    """INFO to stdout, every record scrubbed of the config's secret values and cut at ``MAX_LOG_RECORD_CHARS``."""
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


def raise_open_files_limit(target: int) -> None:
    """Raise the soft open-files limit towards ``target`` (a server holds many connections); a warning if not."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < target:
        new_soft = target if hard == resource.RLIM_INFINITY else min(target, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        except (ValueError, OSError) as error:
            logger.warning("Could not raise the open-files limit from %d to %d: %s", soft, new_soft, error)
