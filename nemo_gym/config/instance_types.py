"""The reference's typed view of one server entry (``name -> server_type -> implementation -> fields``).

NeMo Gym's own walk over the config is :mod:`nemo_gym.config.instances` (one-line errors, almost-servers); these
pydantic models are the public shapes environments and trainers written for the reference validate against, and
give the same answers for the same config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from nemo_gym.config.paths import SERVER_TYPES
from nemo_gym.config.schema import (
    AgentServerRef,
    BaseServerConfig,
    DatasetConfig,
    Domain,
    ModelServerRef,
    ResourcesServerRef,
)

ServerRef = Annotated[ModelServerRef | ResourcesServerRef | AgentServerRef, Field(discriminator="type")]
"""A reference to another server: ``{type: <server_type>, name: <instance name>}`` (``type`` required)."""
ServerRefTypeAdapter = TypeAdapter(ServerRef)


def is_server_ref(config_dict: Any) -> ModelServerRef | ResourcesServerRef | AgentServerRef | None:
    """The server reference ``config_dict`` holds, or None when it is not one."""
    if isinstance(config_dict, DictConfig):
        config_dict = OmegaConf.to_container(config_dict, resolve=True)
    try:
        return ServerRefTypeAdapter.validate_python(config_dict)
    except ValidationError:
        return None


class BaseRunServerConfig(BaseServerConfig):
    entrypoint: str
    domain: Domain | None = None  # required for resources servers only


class BaseRunServerTypeConfig(BaseRunServerConfig):
    """Level 3 of a server entry, the implementation's fields; unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    host: str | None = None
    port: int | None = None
    num_workers: int | None = None
    datasets: list[DatasetConfig] | None = None


class BaseServerTypeConfig(BaseModel):
    SERVER_TYPE: ClassVar[Literal["responses_api_models", "resources_servers", "responses_api_agents"]]


class ResponsesAPIModelServerTypeConfig(BaseServerTypeConfig):
    SERVER_TYPE: ClassVar[Literal["responses_api_models"]] = "responses_api_models"
    model_config = ConfigDict(extra="allow")

    responses_api_models: dict[str, BaseRunServerTypeConfig] = Field(min_length=1, max_length=1)


class ResourcesServerTypeConfig(BaseServerTypeConfig):
    SERVER_TYPE: ClassVar[Literal["resources_servers"]] = "resources_servers"
    model_config = ConfigDict(extra="allow")

    resources_servers: dict[str, BaseRunServerTypeConfig] = Field(min_length=1, max_length=1)


class ResponsesAPIAgentServerTypeConfig(BaseServerTypeConfig):
    SERVER_TYPE: ClassVar[Literal["responses_api_agents"]] = "responses_api_agents"
    model_config = ConfigDict(extra="allow")

    responses_api_agents: dict[str, BaseRunServerTypeConfig] = Field(min_length=1, max_length=1)


ServerTypeConfig = ResponsesAPIModelServerTypeConfig | ResourcesServerTypeConfig | ResponsesAPIAgentServerTypeConfig


class BaseServerInstanceConfig(BaseServerTypeConfig):
    """A whole server entry: its instance ``name``, the raw entry, and the validated implementation fields.

    Resources servers must have a ``domain``; for model and agent servers ``domain`` is removed.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    server_type_config_dict: Any = Field(exclude=True)

    @model_validator(mode="after")
    def _domain_only_on_resources_servers(self) -> BaseServerInstanceConfig:
        inner = self.get_inner_run_server_config()
        if self.SERVER_TYPE == "resources_servers":
            if inner.domain is None:
                raise ValueError("A domain is required for resource servers.")
        elif "domain" in inner.__dict__:
            del inner.domain
        return self

    def get_server_ref(self) -> ModelServerRef | ResourcesServerRef | AgentServerRef:
        return ServerRefTypeAdapter.validate_python({"type": self.SERVER_TYPE, "name": self.name})

    def get_inner_run_server_config_dict(self) -> Any:
        implementations = self.server_type_config_dict[self.SERVER_TYPE]
        return implementations[next(iter(implementations))]

    def get_inner_run_server_config(self) -> BaseRunServerTypeConfig:
        return next(iter(getattr(self, self.SERVER_TYPE).values()))

    @property
    def datasets(self) -> list[DatasetConfig] | None:
        return self.get_inner_run_server_config().datasets


class ResponsesAPIModelServerInstanceConfig(ResponsesAPIModelServerTypeConfig, BaseServerInstanceConfig):
    pass


class ResourcesServerInstanceConfig(ResourcesServerTypeConfig, BaseServerInstanceConfig):
    pass


class ResponsesAPIAgentServerInstanceConfig(ResponsesAPIAgentServerTypeConfig, BaseServerInstanceConfig):
    pass


ServerInstanceConfig = (
    ResponsesAPIModelServerInstanceConfig | ResourcesServerInstanceConfig | ResponsesAPIAgentServerInstanceConfig
)
ServerInstanceConfigTypeAdapter = TypeAdapter(ServerInstanceConfig)


def _as_plain_mapping(value: Any) -> dict | None:
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value)
    if isinstance(value, Mapping):
        return dict(value)
    return None


def maybe_get_server_instance_config(
    name: str, server_type_config_dict: Any
) -> tuple[ServerInstanceConfig | None, ValidationError | None]:
    """``(config, None)`` when the top-level entry ``name`` is a valid server, ``(None, error)`` when it is a
    mapping that fails validation, ``(None, None)`` when it is not a mapping at all."""
    plain = _as_plain_mapping(server_type_config_dict)
    if plain is None:
        return None, None
    candidate = {"name": name, "server_type_config_dict": server_type_config_dict, **plain}
    try:
        return ServerInstanceConfigTypeAdapter.validate_python(candidate), None
    except ValidationError as error:
        return None, error


def is_almost_server(server_type_config_dict: Any) -> bool:
    """True for an entry that looks like a server (a server-type key over an implementation mapping holding an
    ``entrypoint``), whether or not it validates."""
    plain = _as_plain_mapping(server_type_config_dict)
    if plain is None:
        return False
    for server_type in SERVER_TYPES:
        implementations = plain.get(server_type)
        if isinstance(implementations, Mapping) and any(
            isinstance(fields, Mapping) and "entrypoint" in fields for fields in implementations.values()
        ):
            return True
    return False


def format_almost_server_warning(server_name: str, error: ValidationError) -> str:
    """The warning block for one almost-server: its name and one ``  - <loc> -> ...: <msg>`` line per error.

    Errors of the union members for the other server types (e.g. "responses_api_models: Field required" for an
    agent) are left out.
    """
    member_keys = {
        "ResponsesAPIModelServerInstanceConfig": "responses_api_models",
        "ResourcesServerInstanceConfig": "resources_servers",
        "ResponsesAPIAgentServerInstanceConfig": "responses_api_agents",
    }
    by_member: dict[str | None, list[tuple[tuple, str]]] = {}
    for item in error.errors():
        loc = tuple(item["loc"])
        member = next((key for cls, key in member_keys.items() if loc and cls in str(loc[0])), None)
        if member is not None:
            loc = loc[1:]
        by_member.setdefault(member, []).append((loc, item["msg"]))

    def is_noise(member: str | None) -> bool:
        entries = by_member[member]
        return member is not None and len(entries) == 1 and entries[0][0] == (member,)

    kept = [member for member in by_member if not is_noise(member)] or list(by_member)
    lines = [
        f"  - {' -> '.join(str(part) for part in loc) or '(entry)'}: {message}"
        for member in kept
        for loc, message in by_member[member]
    ]
    body = "\n".join(dict.fromkeys(lines))
    return (
        f"Almost-Server Detected: '{server_name}'\n"
        f"This server configuration failed validation:\n{body}\n"
        "This server will NOT be started."
    )
