"""Config sources, precedence, nested config_paths, env.yaml interpolation and the shorthand override."""

from pathlib import Path

import pytest
import yaml

from nemo_gym.config.cli_overrides import parse_overrides
from nemo_gym.config.loader import merge_sources, parse_config, resolve_subtree
from nemo_gym.errors import ConfigError


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEMO_GYM_ROOT", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return tmp_path


def write(root: Path, name: str, content: dict) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content))
    return name


def test_later_config_files_override_earlier_ones(root: Path) -> None:
    a = write(root, "a.yaml", {"x": 1, "y": {"z": 1, "keep": True}})
    b = write(root, "b.yaml", {"x": 2, "y": {"z": 2}})
    config = merge_sources({"config_paths": [a, b]}, skip_dotenv=True)
    assert config["x"] == 2
    assert config["y"] == {"z": 2, "keep": True}


def test_nested_config_paths_override_their_parent_and_are_appended(root: Path) -> None:
    write(root, "child.yaml", {"value": "child", "only_child": 1})
    parent = write(root, "parent.yaml", {"config_paths": ["child.yaml"], "value": "parent"})
    config = merge_sources({"config_paths": [parent]}, skip_dotenv=True)
    assert config["config_paths"] == ["parent.yaml", "child.yaml"]
    assert config["value"] == "child"
    assert config["only_child"] == 1


def test_nested_config_paths_cycle_terminates(root: Path) -> None:
    write(root, "one.yaml", {"config_paths": ["two.yaml"], "a": 1})
    write(root, "two.yaml", {"config_paths": ["one.yaml"], "b": 2})
    config = merge_sources({"config_paths": ["one.yaml"]}, skip_dotenv=True)
    assert config["config_paths"] == ["one.yaml", "two.yaml"]


def test_env_yaml_beats_files_and_cli_beats_env_yaml(root: Path) -> None:
    a = write(root, "a.yaml", {"from_file": "file", "shared": "file", "cli_wins": "file"})
    (root / "env.yaml").write_text(yaml.safe_dump({"shared": "env", "cli_wins": "env"}))
    config = merge_sources({"config_paths": [a], "cli_wins": "cli"})
    assert config["from_file"] == "file"
    assert config["shared"] == "env"
    assert config["cli_wins"] == "cli"


def test_lists_replace_instead_of_merging(root: Path) -> None:
    a = write(root, "a.yaml", {"items": [1, 2, 3]})
    config = merge_sources({"config_paths": [a], "items": [9]}, skip_dotenv=True)
    assert config["items"] == [9]


def test_interpolation_from_env_yaml_resolves_against_the_merged_config(root: Path) -> None:
    a = write(root, "a.yaml", {"server": {"api_key": "${policy_api_key}", "url": "${policy_base_url}/v1"}})
    (root / "env.yaml").write_text(yaml.safe_dump({"policy_api_key": "sk-abc123456", "policy_base_url": "http://h"}))
    config = merge_sources({"config_paths": [a]})
    assert config["server"]["api_key"] == "${policy_api_key}"  # children receive it unresolved
    assert resolve_subtree(config, "server") == {"api_key": "sk-abc123456", "url": "http://h/v1"}


def test_env_yaml_can_supply_config_paths(root: Path) -> None:
    write(root, "a.yaml", {"from_a": True})
    (root / "env.yaml").write_text(yaml.safe_dump({"my_paths": ["a.yaml"]}))
    config = merge_sources(parse_overrides(["+config_paths=${my_paths}"]))
    assert config["from_a"] is True


def test_empty_input_gives_the_documented_defaults(root: Path) -> None:
    config = parse_config({}, skip_dotenv=True).config
    assert config["head_server"] == {"host": "127.0.0.1", "port": 11000}
    assert config["disallowed_ports"] == [11000]
    assert config["head_server_deps"][0].startswith("ray[default]==")
    assert config["head_server_deps"][1].startswith("openai==")
    assert "config_paths" not in config


def test_missing_config_file_is_one_line_naming_the_file(root: Path) -> None:
    with pytest.raises(ConfigError) as error:
        merge_sources({"config_paths": ["nope/missing.yaml"]}, skip_dotenv=True)
    assert "nope/missing.yaml" in str(error.value)
    assert "\n" not in str(error.value)


def test_yaml_syntax_error_names_file_and_line(root: Path) -> None:
    (root / "bad.yaml").write_text("a: 1\nb: [unclosed\nc: 3\n")
    with pytest.raises(ConfigError) as error:
        merge_sources({"config_paths": ["bad.yaml"]}, skip_dotenv=True)
    assert "bad.yaml" in str(error.value) and "line" in str(error.value)


def test_config_paths_must_be_a_list(root: Path) -> None:
    with pytest.raises(ConfigError, match="config_paths"):
        merge_sources({"config_paths": "a.yaml"}, skip_dotenv=True)


def test_cli_overrides_follow_hydra_grammar() -> None:
    parsed = parse_overrides(["+a=1", "+b.c=[x,y]", "+d=null", "++e=true", "+f=${a}"])
    assert parsed == {"a": 1, "b": {"c": ["x", "y"]}, "d": None, "e": True, "f": "${a}"}


def test_cli_override_without_plus_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"\+key=value"):
        parse_overrides(["a=1"])


def test_no_outputs_directory_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    parse_overrides(["+a=1"])
    assert not (tmp_path / "outputs").exists()
    assert not (tmp_path / ".hydra").exists()


def test_shorthand_override_without_the_server_type_level(root: Path) -> None:
    (root / "responses_api_models" / "vllm_model").mkdir(parents=True)
    model = write(
        root,
        "model.yaml",
        {"policy_model": {"responses_api_models": {"vllm_model": {"entrypoint": "app.py", "base_url": "http://old"}}}},
    )
    overrides = parse_overrides([f"+config_paths=[{model}]", "+policy_model.vllm_model.base_url=http://host:10240"])
    config = parse_config(overrides, skip_dotenv=True).config
    fields = config["policy_model"]["responses_api_models"]["vllm_model"]
    assert fields["base_url"] == "http://host:10240"
    assert "vllm_model" not in config["policy_model"]


def test_a_child_reads_its_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ng_run hands a child: the whole config as YAML plus the instance name; no CLI, no env.yaml."""
    from nemo_gym.base_resources_server import BaseResourcesServerConfig, SimpleResourcesServer
    from nemo_gym.global_config import get_global_config_dict

    class Server(SimpleResourcesServer):
        config: BaseResourcesServerConfig

        async def verify(self, body):
            raise NotImplementedError

    config = {
        "secret_value": "sk-from-env-yaml",
        "weather": {
            "resources_servers": {
                "w": {
                    "entrypoint": "app.py",
                    "domain": "agent",
                    "host": "127.0.0.1",
                    "port": 1234,
                    "api_key": "${secret_value}",
                }
            }
        },
    }
    monkeypatch.setenv("NEMO_GYM_CONFIG_DICT", yaml.safe_dump(config))
    monkeypatch.setenv("NEMO_GYM_CONFIG_PATH", "weather")
    assert get_global_config_dict()["weather"]["resources_servers"]["w"]["port"] == 1234
    own = Server.load_config_from_global_config()
    assert (own.name, own.host, own.port, own.domain) == ("weather", "127.0.0.1", 1234, "agent")
    assert get_global_config_dict() is get_global_config_dict()  # parsed once, cached
