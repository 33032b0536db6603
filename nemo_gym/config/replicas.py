"""An instance's replica keys (``num_replicas``, ``replica_resources``, ``replica_failure_policy``), validated.

See :mod:`nemo_gym.runtime.replicas` for what they do and docs/configuration.md for the keys.
"""

from dataclasses import dataclass
from typing import Any, Literal

from nemo_gym.config.schema import ServerInstance
from nemo_gym.errors import ConfigError

REPLICA_OPTION_KEYS = ("num_replicas", "replica_resources", "replica_failure_policy")
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory", "resources")


@dataclass(frozen=True)
class ReplicaSettings:
    """An instance's replica keys, validated."""

    num_replicas: int
    actor_options: dict[str, Any]
    failure_policy: Literal["restart", "stop"]


def replica_settings(instance: ServerInstance) -> ReplicaSettings | None:
    """The instance's replica settings, or None when it runs as a local process (no ``num_replicas``).

    Raises ConfigError naming the key when a value is not what is expected.
    """
    extra = instance.config.model_extra or {}
    where = f"{instance.name}.{instance.server_type}.{instance.implementation}"
    count = extra.get("num_replicas")
    if count is None:
        stray = [key for key in REPLICA_OPTION_KEYS[1:] if key in extra]
        if stray:
            raise ConfigError(f"{where}.{stray[0]}: only applies with num_replicas (an integer >= 1)")
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"{where}.num_replicas: expected an integer >= 1, got {count!r}")
    if extra.get("isolated_env"):
        raise ConfigError(f"{where}.isolated_env: replicas run with the Ray workers' Python; drop one of the two")
    resources = extra.get("replica_resources") or {}
    if not isinstance(resources, dict) or any(key not in RESOURCE_KEYS for key in resources):
        raise ConfigError(f"{where}.replica_resources: expected a mapping with keys among {list(RESOURCE_KEYS)}")
    options: dict[str, Any] = {"num_cpus": 1}
    for key, value in resources.items():
        if key == "resources":
            if not isinstance(value, dict) or not all(_number(item) for item in value.values()):
                raise ConfigError(f"{where}.replica_resources.resources: expected a mapping of names to numbers")
            options[key] = {str(name): float(item) for name, item in value.items()}
        elif not _number(value):
            raise ConfigError(f"{where}.replica_resources.{key}: expected a number >= 0, got {value!r}")
        else:
            options[key] = value
    policy = extra.get("replica_failure_policy", "restart")
    if policy not in ("restart", "stop"):
        raise ConfigError(f"{where}.replica_failure_policy: expected 'restart' or 'stop', got {policy!r}")
    return ReplicaSettings(num_replicas=count, actor_options=options, failure_policy=policy)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
