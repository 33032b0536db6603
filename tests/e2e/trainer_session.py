"""A trainer process shaped like NeMo RL's NeMo Gym environment, run by ``test_trainer_integration.py``.

It uses only what a trainer written for the reference uses: Ray, OmegaConf, psutil/httpx for its own checks, and
the reference's public names (``nemo_gym.cli``, ``nemo_gym.rollout_collection``, ``nemo_gym.server_utils``,
``nemo_gym.global_config``). It starts its own local Ray cluster, creates one actor, and in that actor starts the
servers, collects rollouts, health-checks, kills a server, shuts down and (optionally) starts again. It records what
it observed in a JSON report; the test makes the assertions.

Usage: ``python trainer_session.py SETTINGS_JSON REPORT_JSON``. Settings: ``upstream_base_urls`` (list), ``rows``
(the rows to send in the first round), ``second_round_rows`` (0: no second round), ``ray_temp_dir``.
"""

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import ray
from omegaconf import DictConfig

CONFIG_PATHS = [
    "resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml",
    "responses_api_models/vllm_model/configs/vllm_model_for_training.yaml",
]
AGENT = "example_single_tool_call_simple_agent"
NODE_IP = "127.0.0.1"  # a trainer uses its node's IP; the tests stay on loopback


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((NODE_IP, 0))
        return sock.getsockname()[1]


def port_is_closed(port: int) -> bool:
    try:
        with socket.create_connection((NODE_IP, port), timeout=0.5):
            return False
    except OSError:
        return True


@ray.remote(num_cpus=0)
class GymEnvironment:
    """What NeMo RL's environment actor does with NeMo Gym, plus the observations the test needs."""

    def __init__(self, base_urls: list[str], dotenv_dir: str) -> None:
        self.base_urls = base_urls
        self.dotenv_dir = Path(dotenv_dir)
        self.rh: Any = None

    def start(self) -> dict:
        from nemo_gym.cli import GlobalConfigDictParserConfig, RunHelper
        from nemo_gym.global_config import get_global_config_dict
        from nemo_gym.rollout_collection import RolloutCollectionHelper
        from nemo_gym.server_utils import HEAD_SERVER_KEY_NAME, BaseServerConfig

        self.head_port = free_port()
        config = {
            "config_paths": CONFIG_PATHS,
            "policy_model_name": "scripted-model",
            "policy_api_key": "dummy_key",
            "policy_base_url": self.base_urls,
            "default_host": NODE_IP,
            "global_aiohttp_connector_limit_per_host": 16384,
            "global_aiohttp_connector_limit": 65536,
            "port_range_low": 20000,
            "port_range_high": 30000,
            "ray_head_node_address": ray.get_runtime_context().gcs_address,
            HEAD_SERVER_KEY_NAME: {"host": NODE_IP, "port": self.head_port},
        }
        started = time.monotonic()
        self.rh = RunHelper()
        self.rh.start(
            global_config_dict_parser_config=GlobalConfigDictParserConfig(
                dotenv_path=self.dotenv_dir / "nemo_gym_env.yaml",  # does not exist
                initial_global_config_dict=DictConfig(config),
                skip_load_from_cli=True,
            )
        )
        start_seconds = time.monotonic() - started
        self.head = BaseServerConfig(host=NODE_IP, port=self.head_port)
        self.rch = RolloutCollectionHelper()
        resolved = get_global_config_dict()
        instances = httpx.get(f"http://{NODE_IP}:{self.head_port}/server_instances", timeout=10).json()
        healthy = {
            record["process_name"]: httpx.get(f"{record['url']}/health", timeout=5).status_code for record in instances
        }
        return {
            "start_seconds": start_seconds,
            "argv": sys.argv,
            "head_port": self.head_port,
            "config_paths": list(resolved["config_paths"]),
            "agent_configured": AGENT in resolved,
            "ray_head_node_address": resolved["ray_head_node_address"],
            "trainer_gcs_address": ray.get_runtime_context().gcs_address,
            "instances": instances,
            "health_status_right_after_start": healthy,
            "ray_daemons_under_servers": _ray_daemons_under([record["pid"] for record in instances]),
        }

    async def run_rollouts(self, rows: list[dict]) -> list[dict]:
        outcomes = []
        for task in self.rch.run_examples(examples=rows, head_server_config=self.head):
            row, result = await task
            outcomes.append({"row": row, "result": result, "row_is_the_given_object": row is rows[row["_rowidx"]]})
        return outcomes

    async def run_failing_row(self, row: dict) -> str:
        for task in self.rch.run_examples(examples=[row], head_server_config=self.head):
            try:
                await task
            except Exception as error:
                return f"{type(error).__name__}: {getattr(error, 'status', '')} {error}"
        return "no error"

    async def use_server_client(self) -> dict:
        from nemo_gym.server_utils import ServerClient

        client = ServerClient.load_from_global_config(self.head)
        weather = await client.post(
            server_name="example_single_tool_call", url_path="/get_weather", json={"city": "Oslo"}
        )
        health = await client.request(server_name=AGENT, url_path="/health", method="GET")
        return {"weather_status": weather.status, "weather": await weather.json(), "agent_health": health.status}

    async def poll_from_worker_thread(self) -> str | None:
        try:
            await asyncio.to_thread(self.rh.poll)
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None

    def shutdown(self) -> dict:
        instances = httpx.get(f"http://{NODE_IP}:{self.head_port}/server_instances", timeout=10).json()
        processes = []
        for record in instances:
            try:
                process = psutil.Process(record["pid"])
                processes += [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        started = time.monotonic()
        self.rh.shutdown()
        seconds = time.monotonic() - started
        left = [p.pid for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        ports = [self.head_port, *(record["port"] for record in instances)]
        return {
            "shutdown_seconds": seconds,
            "processes_before": len(processes),
            "processes_left": left,
            "ports_still_open": [port for port in ports if not port_is_closed(port)],
        }

    def ray_still_usable(self) -> bool:
        @ray.remote(num_cpus=0)
        def add(a: int, b: int) -> int:
            return a + b

        return ray.get(add.remote(2, 3)) == 5


def _ray_daemons_under(pids: list[int]) -> list[str]:
    """Names of Ray daemons (a second cluster) among the descendants of the server processes."""
    names = []
    for pid in pids:
        for child in psutil.Process(pid).children(recursive=True):
            name = child.name()
            if name in ("gcs_server", "raylet") or "ray.scripts" in " ".join(child.cmdline()):
                names.append(name)
    return names


def example_rows(count: int) -> list[dict]:
    from nemo_gym import PARENT_DIR

    path = Path(PARENT_DIR) / "resources_servers/example_single_tool_call/data/example.jsonl"
    examples = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        {**examples[index % len(examples)], "_rowidx": index, "agent_ref": {"name": AGENT}} for index in range(count)
    ]


def run(settings: dict) -> dict:
    report: dict[str, Any] = {"rounds": []}
    env = GymEnvironment.remote(settings["upstream_base_urls"], settings["dotenv_dir"])

    first = {"start": ray.get(env.start.remote())}
    first["outcomes"] = ray.get(env.run_rollouts.remote(example_rows(settings["rows"])))
    bad_row = {"_rowidx": 0, "agent_ref": {"name": AGENT}, "responses_create_params": {"no_input": True}}
    first["failing_row"] = ray.get(env.run_failing_row.remote(bad_row))
    first["server_client"] = ray.get(env.use_server_client.remote())
    first["poll_while_healthy"] = ray.get(env.poll_from_worker_thread.remote())
    victim = next(r for r in first["start"]["instances"] if r["process_name"] == "example_single_tool_call")
    os.kill(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 15
    first["poll_after_kill"] = None
    while first["poll_after_kill"] is None and time.monotonic() < deadline:
        first["poll_after_kill"] = ray.get(env.poll_from_worker_thread.remote())
        time.sleep(0.1)
    first["shutdown"] = ray.get(env.shutdown.remote())
    report["rounds"].append(first)

    if settings["second_round_rows"]:
        second = {"start": ray.get(env.start.remote())}
        second["outcomes"] = ray.get(env.run_rollouts.remote(example_rows(settings["second_round_rows"])))
        second["poll_while_healthy"] = ray.get(env.poll_from_worker_thread.remote())
        second["shutdown"] = ray.get(env.shutdown.remote())
        report["rounds"].append(second)
    report["ray_usable_after_shutdown"] = ray.get(env.ray_still_usable.remote())
    return report


def main() -> None:
    settings = json.loads(Path(sys.argv[1]).read_text())
    # address="local": a new cluster of this process's own, never another one running on the machine.
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address=NODE_IP,
        _temp_dir=settings["ray_temp_dir"],
        logging_level="WARNING",
    )
    try:
        report = run(settings)
    finally:
        ray.shutdown()
    Path(sys.argv[2]).write_text(json.dumps(report))


if __name__ == "__main__":
    main()
