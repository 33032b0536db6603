"""The in-process API trainers use: nemo_gym.cli's names, the programmatic config parse, port ranges, aliases."""

import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig

from nemo_gym.errors import ConfigError

REFERENCE_CLI_NAMES = (
    "RunConfig TestConfig RunHelper run test TestAllConfig test_all dev_test init_resources_server dump_config "
    "display_help status PipListConfig pip_list VersionConfig version"
).split()


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEMO_GYM_ROOT", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # what a Ray actor's argv looks like: Hydra could not parse it, so it must never be read
    monkeypatch.setattr(sys, "argv", ["default_worker.py", "--node-ip-address=10.0.0.1", "--object-store-name=x"])
    (tmp_path / "model.yaml").write_text(
        yaml.safe_dump(
            {
                "policy_model": {
                    "responses_api_models": {
                        "vllm_model": {"entrypoint": "app.py", "base_url": "${policy_base_url}", "api_key": "x"}
                    }
                }
            }
        )
    )
    return tmp_path


def test_every_reference_cli_name_is_importable_from_nemo_gym_cli() -> None:
    import nemo_gym.cli as cli

    for name in REFERENCE_CLI_NAMES:
        assert getattr(cli, name) is not None, name
    from nemo_gym.cli import GlobalConfigDictParserConfig, RunHelper, run  # what NeMo RL imports

    assert callable(run) and callable(RunHelper) and GlobalConfigDictParserConfig is not None
    assert set(REFERENCE_CLI_NAMES) <= set(dir(cli))


def test_run_config_is_the_one_folder_command_base() -> None:
    from pydantic import ValidationError

    from nemo_gym.cli import PipListConfig, RunConfig, TestConfig

    assert issubclass(TestConfig, RunConfig) and issubclass(PipListConfig, RunConfig)
    assert RunConfig(entrypoint="resources_servers/mcqa").entrypoint == "resources_servers/mcqa"
    with pytest.raises(ValidationError, match="entrypoint"):
        RunConfig()


def test_trainer_parse_reads_the_seed_and_its_config_paths_but_never_argv(root: Path) -> None:
    from nemo_gym.global_config import GlobalConfigDictParser, GlobalConfigDictParserConfig

    seed = {"config_paths": ["model.yaml"], "policy_base_url": ["http://a:1/v1", "http://b:2/v1"], "default_host": "h"}
    config = GlobalConfigDictParser().parse(
        GlobalConfigDictParserConfig(
            dotenv_path=root / "nemo_gym_env.yaml",  # absent: skipped
            initial_global_config_dict=DictConfig(seed),
            skip_load_from_cli=True,
        )
    )
    assert isinstance(config, DictConfig)
    assert config.config_paths == ["model.yaml"]
    assert config.policy_model.responses_api_models.vllm_model.base_url == ["http://a:1/v1", "http://b:2/v1"]
    assert config.policy_model.responses_api_models.vllm_model.host == "h"


def test_the_seed_beats_the_dotenv_file_which_beats_config_files(root: Path) -> None:
    from nemo_gym.global_config import GlobalConfigDictParser, GlobalConfigDictParserConfig

    (root / "files.yaml").write_text(yaml.safe_dump({"a": "file", "b": "file", "c": "file"}))
    (root / "env.yaml").write_text(yaml.safe_dump({"b": "dotenv", "c": "dotenv", "config_paths": ["files.yaml"]}))
    config = GlobalConfigDictParser().parse(
        GlobalConfigDictParserConfig(
            dotenv_path=root / "env.yaml", initial_global_config_dict={"c": "seed"}, skip_load_from_cli=True
        )
    )
    assert (config.a, config.b, config.c) == ("file", "dotenv", "seed")
    no_environment = GlobalConfigDictParser().parse_no_environment({"config_paths": ["files.yaml"]})
    assert no_environment.b == "file"


def test_the_command_line_beats_the_seed_unless_skipped(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nemo_gym.global_config import GlobalConfigDictParser, GlobalConfigDictParserConfig

    monkeypatch.setattr(sys, "argv", ["ng_x", "+c=cli"])
    settings = dict(initial_global_config_dict={"c": "seed"}, skip_load_from_dotenv=True)
    assert GlobalConfigDictParser().parse(GlobalConfigDictParserConfig(**settings)).c == "cli"
    skipped = GlobalConfigDictParserConfig(**settings, skip_load_from_cli=True)
    assert GlobalConfigDictParser().parse(skipped).c == "seed"


def test_no_model_seed_and_hidden_secrets(root: Path) -> None:
    from nemo_gym.global_config import GlobalConfigDictParser, GlobalConfigDictParserConfig

    seed = GlobalConfigDictParserConfig.NO_MODEL_GLOBAL_CONFIG_DICT
    assert dict(seed) == {"policy_base_url": "", "policy_api_key": "", "policy_model_name": ""}
    config = GlobalConfigDictParser().parse(
        GlobalConfigDictParserConfig(
            initial_global_config_dict={**seed, "config_paths": ["model.yaml"], "hf_token": "hf_secret_value"},
            skip_load_from_cli=True,
            skip_load_from_dotenv=True,
            hide_secrets=True,
        )
    )
    assert config.policy_base_url == "" and config.hf_token == "****"


def test_automatic_ports_come_from_port_range_low_to_high(root: Path) -> None:
    from nemo_gym.config.loader import parse_config

    servers = {
        f"server_{i}": {"resources_servers": {"impl": {"entrypoint": "app.py", "domain": "other"}}} for i in range(5)
    }
    parsed = parse_config({**servers, "port_range_low": 23100, "port_range_high": 23140})
    ports = [instance.config.port for instance in parsed.instances]
    assert len(set(ports)) == 5 and all(23100 <= port <= 23140 for port in ports)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"port_range_low": 30000, "port_range_high": 20000}, "must not be above port_range_high"),
        ({"port_range_low": "many"}, "port_range_low: expected a port number"),
        ({"port_range_high": 70000}, "port_range_high: expected a port number"),
    ],
)
def test_a_bad_port_range_is_a_one_line_config_error(root: Path, bounds: dict, message: str) -> None:
    from nemo_gym.config.loader import parse_config

    server = {"s": {"resources_servers": {"impl": {"entrypoint": "app.py", "domain": "other"}}}}
    with pytest.raises(ConfigError, match=message):
        parse_config({**server, **bounds})


def test_resume_from_cache_is_accepted_for_resume() -> None:
    from nemo_gym.rollout_collection import RolloutCollectionConfig

    paths = {"input_jsonl_fpath": "in.jsonl", "output_jsonl_fpath": "out.jsonl"}
    assert RolloutCollectionConfig.model_validate({**paths, "resume_from_cache": True}).resume
    assert RolloutCollectionConfig.model_validate({**paths, "resume": True}).resume
    assert not RolloutCollectionConfig.model_validate(paths).resume


def test_run_helper_calls_before_start() -> None:
    from nemo_gym.cli import RunHelper

    helper = RunHelper()
    helper.shutdown()  # nothing started: nothing to do
    with pytest.raises(RuntimeError, match="not started"):
        helper.poll()


def test_load_from_global_config_takes_the_trainers_base_server_config() -> None:
    from nemo_gym.server_utils import BaseServerConfig, ServerClient

    with pytest.raises(ValueError, match="Could not connect to the head server at http://127.0.0.1:9/"):
        ServerClient.load_from_global_config(BaseServerConfig(host="127.0.0.1", port=9))
