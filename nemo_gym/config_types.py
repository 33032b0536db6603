"""Public face of the config types (the reference's ``nemo_gym.config_types``)."""

from nemo_gym.cli.common import BaseNeMoGymCLIConfig
from nemo_gym.config.schema import (
    DOMAIN_VALUES,
    AgentServerRef,
    BaseRunServerInstanceConfig,
    BaseServerInstanceConfig,
    BaseServerRef,
    DatasetConfig,
    Domain,
    GitlabIdentifier,
    HeadServerConfig,
    HuggingFaceIdentifier,
    License,
    ModelServerRef,
    ResourcesServerRef,
    ServerInstance,
)

__all__ = [
    "DOMAIN_VALUES",
    "AgentServerRef",
    "BaseNeMoGymCLIConfig",
    "BaseRunServerInstanceConfig",
    "BaseServerInstanceConfig",
    "BaseServerRef",
    "DatasetConfig",
    "Domain",
    "GitlabIdentifier",
    "HeadServerConfig",
    "HuggingFaceIdentifier",
    "License",
    "ModelServerRef",
    "ResourcesServerRef",
    "ServerInstance",
]
