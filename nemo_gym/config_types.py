"""Public face of the config types (the reference's ``nemo_gym.config_types``).

Server references, dataset configs and the typed view of a server entry. ``BaseServerInstanceConfig`` here is the
reference's whole-entry model (``name`` + one server type); NeMo Gym's own implementation-level model is
``nemo_gym.config.schema.BaseServerInstanceConfig``.
"""

from typing import Literal

from nemo_gym.config.command_config import BaseNeMoGymCLIConfig
from nemo_gym.config.dataset_registry import (
    BaseUploadJsonlDatasetHuggingFaceConfig,
    DeleteJsonlDatasetGitlabConfig,
    DownloadJsonlDatasetGitlabConfig,
    DownloadJsonlDatasetHuggingFaceConfig,
    JsonlDatasetGitlabIdentifer,
    JsonlDatasetHuggingFaceIdentifer,
    UploadJsonlDatasetGitlabConfig,
    UploadJsonlDatasetHuggingFaceConfig,
    UploadJsonlDatasetHuggingFaceMaybeDeleteConfig,
)
from nemo_gym.config.instance_types import (
    BaseRunServerConfig,
    BaseRunServerTypeConfig,
    BaseServerInstanceConfig,
    BaseServerTypeConfig,
    ResourcesServerInstanceConfig,
    ResourcesServerTypeConfig,
    ResponsesAPIAgentServerInstanceConfig,
    ResponsesAPIAgentServerTypeConfig,
    ResponsesAPIModelServerInstanceConfig,
    ResponsesAPIModelServerTypeConfig,
    ServerInstanceConfig,
    ServerInstanceConfigTypeAdapter,
    ServerRef,
    ServerRefTypeAdapter,
    ServerTypeConfig,
    is_almost_server,
    is_server_ref,
    maybe_get_server_instance_config,
)
from nemo_gym.config.schema import (
    DOMAIN_VALUES,
    AgentServerRef,
    BaseRunServerInstanceConfig,
    BaseServerConfig,
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

DatasetType = Literal["train", "validation", "example"]

# The key of a dataset row that names the agent that runs it.
AGENT_REF_KEY = "agent_ref"

__all__ = [
    "AGENT_REF_KEY",
    "DOMAIN_VALUES",
    "AgentServerRef",
    "BaseNeMoGymCLIConfig",
    "BaseRunServerConfig",
    "BaseRunServerInstanceConfig",
    "BaseRunServerTypeConfig",
    "BaseServerConfig",
    "BaseServerInstanceConfig",
    "BaseServerRef",
    "BaseServerTypeConfig",
    "BaseUploadJsonlDatasetHuggingFaceConfig",
    "DatasetConfig",
    "DatasetType",
    "DeleteJsonlDatasetGitlabConfig",
    "Domain",
    "DownloadJsonlDatasetGitlabConfig",
    "DownloadJsonlDatasetHuggingFaceConfig",
    "GitlabIdentifier",
    "HeadServerConfig",
    "HuggingFaceIdentifier",
    "JsonlDatasetGitlabIdentifer",
    "JsonlDatasetHuggingFaceIdentifer",
    "License",
    "ModelServerRef",
    "ResourcesServerInstanceConfig",
    "ResourcesServerRef",
    "ResourcesServerTypeConfig",
    "ResponsesAPIAgentServerInstanceConfig",
    "ResponsesAPIAgentServerTypeConfig",
    "ResponsesAPIModelServerInstanceConfig",
    "ResponsesAPIModelServerTypeConfig",
    "ServerInstance",
    "ServerInstanceConfig",
    "ServerInstanceConfigTypeAdapter",
    "ServerRef",
    "ServerRefTypeAdapter",
    "ServerTypeConfig",
    "UploadJsonlDatasetGitlabConfig",
    "UploadJsonlDatasetHuggingFaceConfig",
    "UploadJsonlDatasetHuggingFaceMaybeDeleteConfig",
    "is_almost_server",
    "is_server_ref",
    "maybe_get_server_instance_config",
]
