"""User-facing errors. The CLI prints their message on one line and exits non-zero."""


class NeMoGymError(Exception):
    """Base class of every error whose message is meant for the user."""


class ConfigError(NeMoGymError):
    """The merged configuration is invalid (file, key and expectation are named in the message)."""


class ServerRefError(ConfigError):
    """A server reference points at an instance that is not configured."""


class PortError(ConfigError):
    """A port is duplicated, taken by another process, or cannot be allocated."""


class SupervisorError(NeMoGymError):
    """A child server failed to start or died while ng_run was supervising it."""
