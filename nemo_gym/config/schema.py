"""Typed shapes of the configuration: domains, server references, datasets and server instances."""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Domain(StrEnum):
    MATH = "math"
    CODING = "coding"
    AGENT = "agent"
    KNOWLEDGE = "knowledge"
    INSTRUCTION_FOLLOWING = "instruction_following"
    LONG_CONTEXT = "long_context"
    SAFETY = "safety"
    GAMES = "games"
    TRANSLATION = "translation"
    E2E = "e2e"
    OTHER = "other"


DOMAIN_VALUES = [domain.value for domain in Domain]

ServerType = Literal["responses_api_models", "resources_servers", "responses_api_agents"]


class BaseServerRef(BaseModel):
    type: ServerType
    name: str


class ModelServerRef(BaseServerRef):
    type: Literal["responses_api_models"] = "responses_api_models"


class ResourcesServerRef(BaseServerRef):
    type: Literal["resources_servers"] = "resources_servers"


class AgentServerRef(BaseServerRef):
    type: Literal["responses_api_agents"] = "responses_api_agents"


class GitlabIdentifier(BaseModel):
    dataset_name: str
    version: str
    artifact_fpath: str


class HuggingFaceIdentifier(BaseModel):
    repo_id: str
    artifact_fpath: str | None = None


License = Literal[
    "Apache 2.0",
    "MIT",
    "Creative Commons Attribution 4.0 International",
    "Creative Commons Attribution-ShareAlike 4.0 International",
    "NVIDIA Internal Use Only, Do Not Distribute",
    "TBD",
    "GNU General Public License v3.0",
]


class DatasetConfig(BaseModel):
    name: str
    type: Literal["train", "validation", "example"]
    jsonl_fpath: str
    num_repeats: int = Field(default=1, ge=1)
    gitlab_identifier: GitlabIdentifier | None = None
    huggingface_identifier: HuggingFaceIdentifier | None = None
    license: License | None = None

    @model_validator(mode="after")
    def _license_required_for_training_data(self) -> "DatasetConfig":
        if self.type in ("train", "validation") and self.license is None:
            raise ValueError(f"A license is required for {self.type} datasets (dataset {self.name!r}).")
        return self


class BaseServerInstanceConfig(BaseModel):
    """The implementation-level mapping of a server instance (level 3 of the config)."""

    model_config = ConfigDict(extra="allow")

    entrypoint: str
    host: str | None = None
    port: int | None = None
    num_workers: int | None = None
    domain: Domain | None = None
    datasets: list[DatasetConfig] | None = None


class BaseRunServerInstanceConfig(BaseModel):
    """What a running server knows about itself (its level-3 mapping plus the injected ``name``)."""

    host: str
    port: int
    num_workers: int | None = None
    entrypoint: str
    domain: Domain | None = None
    name: str


class ServerInstance(BaseModel):
    """A validated server instance: ``name -> server_type -> implementation -> fields``."""

    name: str
    server_type: ServerType
    implementation: str
    config: BaseServerInstanceConfig

    @property
    def ref(self) -> BaseServerRef:
        return BaseServerRef(type=self.server_type, name=self.name)

    @property
    def dir_path(self) -> str:
        return f"{self.server_type}/{self.implementation}"


class BaseServerConfig(BaseModel):
    """Where a server listens: what a client needs to reach it (the head server, for trainers)."""

    host: str
    port: int


class HeadServerConfig(BaseServerConfig):
    num_workers: int | None = None
