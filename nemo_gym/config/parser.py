"""The reference's programmatic parse: ``GlobalConfigDictParser().parse(GlobalConfigDictParserConfig(...))``.

Trainers build their config as a dict and hand it over with ``skip_load_from_cli=True`` (their ``sys.argv``
belongs to someone else); tools parse a profile without starting anything. The result is the same global config
``ng_run`` would use: files in ``config_paths`` < ``env.yaml`` (``dotenv_path``) < ``initial_global_config_dict``
< command line, with hosts, ports and version pins filled in.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig, ListConfig, OmegaConf
from pydantic import BaseModel, ConfigDict

from nemo_gym.config.loader import ParsedConfig, parse_config
from nemo_gym.config.secrets import mask_secrets

POLICY_KEYS = ("policy_base_url", "policy_api_key", "policy_model_name")


class GlobalConfigDictParserConfig(BaseModel):
    """How to build the global config.

    - ``dotenv_path``: the ``env.yaml`` to read (default: the repository's); a missing file is skipped.
    - ``initial_global_config_dict``: a seed that beats config files and env.yaml but not the command line.
    - ``skip_load_from_cli``: do not read ``sys.argv`` (trainers, scripts, Ray actors).
    - ``skip_load_from_dotenv``: do not read any env.yaml.
    - ``hide_secrets``: mask ``*key*``/``*token*``-style values in the result (for printing).

    ``NO_MODEL_GLOBAL_CONFIG_DICT`` is a seed of empty ``policy_*`` values, for parsing a profile whose model
    server needs no real endpoint (data preparation, inspection).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    dotenv_path: Path | None = None
    initial_global_config_dict: DictConfig | dict[str, Any] | None = None
    skip_load_from_cli: bool = False
    skip_load_from_dotenv: bool = False
    hide_secrets: bool = False

    NO_MODEL_GLOBAL_CONFIG_DICT: ClassVar[DictConfig] = DictConfig({key: "" for key in POLICY_KEYS})


def _plain_dict(value: Mapping[str, Any] | DictConfig | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=False)
    return {key: OmegaConf.to_container(item, resolve=False) if isinstance(item, DictConfig | ListConfig) else item
            for key, item in value.items()}  # fmt: skip


class GlobalConfigDictParser:
    """Builds the global config dict from the sources a ``GlobalConfigDictParserConfig`` names."""

    def parse_to_instances(self, parse_config_: GlobalConfigDictParserConfig | None = None) -> ParsedConfig:
        """The parsed config with its validated server instances (what the supervisor starts)."""
        settings = parse_config_ or GlobalConfigDictParserConfig()
        cli: dict[str, Any] = {}
        if not settings.skip_load_from_cli:
            from nemo_gym.config.cli_overrides import parse_overrides

            cli = parse_overrides()
        return parse_config(
            cli,
            initial=_plain_dict(settings.initial_global_config_dict),
            dotenv_path=settings.dotenv_path,
            skip_dotenv=settings.skip_load_from_dotenv,
        )

    def parse(self, parse_config: GlobalConfigDictParserConfig | None = None) -> DictConfig:
        """The global config as a DictConfig (interpolations left unresolved, as servers receive it)."""
        settings = parse_config or GlobalConfigDictParserConfig()
        config = self.parse_to_instances(settings).config
        return OmegaConf.create(mask_secrets(config) if settings.hide_secrets else config)

    def parse_no_environment(
        self, initial_global_config_dict: DictConfig | dict[str, Any] | None = None
    ) -> DictConfig:
        """Parse only ``initial_global_config_dict`` (and the files it names): no command line, no env.yaml."""
        return self.parse(
            GlobalConfigDictParserConfig(
                initial_global_config_dict=initial_global_config_dict,
                skip_load_from_cli=True,
                skip_load_from_dotenv=True,
            )
        )
