"""Server-instance recognition, domains, references, almost-servers, hosts and ports."""

from pathlib import Path

import pytest

from nemo_gym.config.loader import parse_config
from nemo_gym.config.ports import PortAllocator, find_open_port
from nemo_gym.errors import ConfigError, PortError, ServerRefError
from nemo_gym.global_config import get_first_server_config_dict


def resources(name: str = "weather", **fields) -> dict:
    return {"resources_servers": {name: {"entrypoint": "app.py", "domain": "agent", **fields}}}


def agent(resources_name: str = "weather_rs", **fields) -> dict:
    return {
        "responses_api_agents": {
            "simple_agent": {
                "entrypoint": "app.py",
                "resources_server": {"type": "resources_servers", "name": resources_name},
                **fields,
            }
        }
    }


@pytest.fixture(autouse=True)
def _root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEMO_GYM_ROOT", str(tmp_path))


def test_valid_instances_get_hosts_ports_and_disallowed_ports() -> None:
    parsed = parse_config({"weather_rs": resources(), "agent": agent(), "c": 2, "b": {"c": {"d": {}}}})
    assert [i.name for i in parsed.instances] == ["weather_rs", "agent"]
    ports = [i.config.port for i in parsed.instances]
    assert len(set(ports)) == 2 and 11000 not in ports
    assert parsed.config["disallowed_ports"] == [11000, *ports]
    assert parsed.config["weather_rs"]["resources_servers"]["weather"]["host"] == "127.0.0.1"
    assert parsed.config["b"] == {"c": {"d": {}}} and parsed.config["c"] == 2


def test_default_host_applies_to_servers_and_head() -> None:
    parsed = parse_config({"weather_rs": resources(), "default_host": "0.0.0.0"})
    assert parsed.instances[0].config.host == "0.0.0.0"
    assert parsed.config["head_server"]["host"] == "0.0.0.0"


def test_head_server_port_override_keeps_default_host() -> None:
    parsed = parse_config({"head_server": {"port": 8000}})
    assert parsed.config["head_server"] == {"port": 8000, "host": "127.0.0.1"}


def test_domain_is_required_for_resources_servers() -> None:
    bad = {"resources_servers": {"weather": {"entrypoint": "app.py"}}}
    with pytest.raises(ConfigError, match="domain"):
        parse_config({"weather_rs": bad})


def test_bad_domain_lists_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"weather_rs": resources(domain="cooking")})
    message = str(error.value)
    assert "cooking" in message and "math" in message and "instruction_following" in message


def test_domain_is_removed_from_non_resources_servers() -> None:
    parsed = parse_config({"weather_rs": resources(), "agent": agent(domain="math")})
    assert parsed.instances[1].config.domain is None


def test_unknown_server_reference_lists_the_existing_ones() -> None:
    with pytest.raises(ServerRefError) as error:
        parse_config({"weather_rs": resources(), "agent": agent(resources_name="nope")})
    assert "nope" in str(error.value) and "resources_servers/weather_rs" in str(error.value)


def test_almost_server_is_an_error_by_default_and_skipped_when_allowed() -> None:
    almost = {"resources_servers": {"weather": {"entrypoint": "app.py", "domain": "nope"}}}
    with pytest.raises(ConfigError, match="almost-server"):
        parse_config({"broken": almost, "weather_rs": resources()})
    parsed = parse_config({"broken": almost, "weather_rs": resources(), "error_on_almost_servers": False})
    assert [i.name for i in parsed.instances] == ["weather_rs"]


def test_mapping_without_entrypoint_is_not_a_server() -> None:
    parsed = parse_config({"notes": {"resources_servers": {"x": {"description": "no entrypoint"}}}})
    assert parsed.instances == []


def test_duplicate_explicit_ports_are_reported_by_name() -> None:
    with pytest.raises(PortError) as error:
        parse_config({"a_rs": resources(port=12345), "b_rs": resources(name="other", port=12345)})
    assert "b_rs" in str(error.value) and "a_rs" in str(error.value)


def test_user_disallowed_ports_are_respected() -> None:
    blocked = find_open_port()
    parsed = parse_config({"weather_rs": resources(), "disallowed_ports": [blocked]})
    assert parsed.instances[0].config.port != blocked
    assert blocked in parsed.config["disallowed_ports"]


def test_allocator_never_hands_out_the_same_port_twice() -> None:
    allocator = PortAllocator([11000])
    ports = [allocator.allocate("127.0.0.1") for _ in range(50)]
    allocator.release()
    assert len(set(ports)) == 50 and 11000 not in ports


def test_first_server_config_dict_ignores_key_names() -> None:
    config = {"a": {"b": {"c": {"x": 1}, "d": None}, "e": None}}
    assert get_first_server_config_dict(config, "a") == {"x": 1}
