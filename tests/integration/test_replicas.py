"""Server instances as replicas on a two-node Ray cluster on this machine, run by ng_run.

One ng_run serves the quick-start environment with the agent and the resources server as 2 replicas each
(``replica_failure_policy: restart``) and the model server as 1 replica (``stop``), in front of the scripted
upstream. The tests run in file order on that one stack: placement, routing, sessions, a killed replica under
each policy, and what is left on the nodes afterwards.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from nemo_gym.config.ports import find_open_port
from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.http.client import close_global_aiohttp_session
from nemo_gym.http.replica_routing import replica_of_cookie
from nemo_gym.http.server_client import ServerClient
from nemo_gym.testing.ray_nodes import LocalRayNodes

ROOT = Path(__file__).resolve().parents[2]
AGENT = "example_single_tool_call_simple_agent"
RESOURCES = "example_single_tool_call"
CONFIGS = "resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml"
MODEL_CONFIG = "responses_api_models/vllm_model/configs/vllm_model.yaml"
AGENT_KEYS = f"{AGENT}.responses_api_agents.simple_agent"
RESOURCES_KEYS = f"{RESOURCES}.resources_servers.{RESOURCES}"
MODEL_KEYS = "policy_model.responses_api_models.vllm_model"


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.nodes = LocalRayNodes(nodes=2, cpus_per_node=4)
        self.nodes.start()
        upstream_port = find_open_port()
        self.upstream = subprocess.Popen(
            [sys.executable, "-m", "nemo_gym.testing.scripted_upstream", "--port", str(upstream_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.head_port = find_open_port()
        self.log_path = tmp / "ng_run.log"
        env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        env.update(self.nodes.auth_env())
        self.ng_run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from nemo_gym.cli.run import main; main()",
                f"+config_paths=[{CONFIGS},{MODEL_CONFIG}]",
                f"+head_server.port={self.head_port}",
                f"+ray_head_node_address={self.nodes.address}",
                f"+policy_base_url=http://127.0.0.1:{upstream_port}/v1",
                "+policy_api_key=EMPTY",
                "+policy_model_name=scripted",
                f"++{AGENT_KEYS}.num_replicas=2",
                f"++{AGENT_KEYS}.replica_resources.num_cpus=1",
                f"++{RESOURCES_KEYS}.num_replicas=2",
                f"++{MODEL_KEYS}.num_replicas=1",
                f"++{MODEL_KEYS}.replica_failure_policy=stop",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )

    @property
    def head_url(self) -> str:
        return f"http://127.0.0.1:{self.head_port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.ng_run.poll() is None, self.output()[-4000:]
            return "servers ready" in self.output()

        wait_for(ready, 180, "ng_run to be ready")

    def replicas(self, name: str, state: str | None = "ready") -> list[dict]:
        entries = httpx.get(f"{self.head_url}/server_instances", timeout=5).json()
        return [e for e in entries if e["process_name"] == name and (state is None or e["replica_state"] == state)]

    def client(self) -> ServerClient:
        return ServerClient.load_from_global_config(HeadServerConfig(host="127.0.0.1", port=self.head_port))

    def stop(self) -> None:
        for process in (self.ng_run, self.upstream):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.ng_run, self.upstream):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.nodes.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    running = Stack(tmp_path_factory.mktemp("replicas"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def server_pids_on_nodes(nodes: LocalRayNodes) -> list[psutil.Process]:
    """Every NeMo Gym server process (and replica actor) still running under a node of the cluster."""
    found = []
    for pid in nodes.all_pids():
        try:
            process = psutil.Process(pid)
            if "NEMO_GYM_CONFIG_PATH" in process.environ() or "ReplicaProcess" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:
            pass
    return found


def test_replicas_are_spread_over_both_nodes_and_listed_one_entry_each(stack) -> None:
    for name, count in ((AGENT, 2), (RESOURCES, 2), ("policy_model", 1)):
        entries = stack.replicas(name)
        assert len(entries) == count, entries
        assert sorted(entry["replica_index"] for entry in entries) == list(range(count))
        assert len({entry["url"] for entry in entries}) == count
    for name in (AGENT, RESOURCES):
        nodes = {stack.nodes.node_of(entry["pid"]) for entry in stack.replicas(name)}
        assert nodes == {0, 1}, f"{name}: replicas on nodes {nodes}"
        for entry in stack.replicas(name):
            assert httpx.get(f"{entry['url']}/health", timeout=5).json()["name"] == name


async def seed_sessions(client: ServerClient, count: int, cookies: dict | None = None) -> list[str]:
    """The replica that handled each of ``count`` /seed_session calls (from the session cookie it set)."""

    async def one() -> str:
        response = await client.post(RESOURCES, "/seed_session", json={}, cookies=cookies)
        assert response.status == 200, await response.text()
        (morsel,) = [m for name, m in response.cookies.items() if name.endswith(f"___{RESOURCES}")]
        return replica_of_cookie(morsel.value)

    try:
        return list(await asyncio.gather(*(one() for _ in range(count))))
    finally:
        await close_global_aiohttp_session()


def test_requests_reach_every_replica_and_a_session_stays_on_its_own(stack) -> None:
    client = stack.client()
    urls = {entry["url"] for entry in stack.replicas(RESOURCES)}
    spread = asyncio.run(seed_sessions(client, 40))
    assert set(spread) == urls
    first = asyncio.run(seed_sessions(client, 1))[0]
    # a call carrying the session's cookie returns to the replica that created it, whatever the load
    response = httpx.post(f"{first}/seed_session", json={}, timeout=5)
    cookie = {name: value for name, value in response.cookies.items()}
    assert set(asyncio.run(seed_sessions(client, 20, cookies=cookie))) == {first}


def collect(stack: Stack, tmp: Path, rows: int, parallel: int) -> subprocess.Popen:
    source = (ROOT / "resources_servers/example_single_tool_call/data/example.jsonl").read_text().splitlines()
    input_path = tmp / "input.jsonl"
    input_path.write_text("\n".join(source[index % len(source)] for index in range(rows)) + "\n")
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from nemo_gym.cli.rollouts import collect_main; collect_main()",
            f"+agent_name={AGENT}",
            f"+input_jsonl_fpath={input_path}",
            f"+output_jsonl_fpath={tmp / 'out.jsonl'}",
            f"+head_server.port={stack.head_port}",
            f"+num_samples_in_parallel={parallel}",
            "+progress_bar=false",
        ],  # fmt: skip
        cwd=ROOT,
        stdout=(tmp / "collect.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def test_a_killed_replica_is_routed_around_reported_and_restarted(stack, tmp_path) -> None:
    victims = {name: stack.replicas(name)[0] for name in (AGENT, RESOURCES)}
    collector = collect(stack, tmp_path, rows=400, parallel=16)
    wait_for(lambda: (tmp_path / "out.jsonl").exists() and (tmp_path / "out.jsonl").stat().st_size > 0, 60, "rows")
    for entry in victims.values():
        os.kill(entry["pid"], signal.SIGKILL)
    assert collector.wait(timeout=120) == 0, (tmp_path / "collect.log").read_text()[-3000:]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 400
    assert not (tmp_path / "out.jsonl.failures.jsonl").exists()
    for name, entry in victims.items():
        label = f"replica {name}#{entry['replica_index']} of server {name!r} (pid {entry['pid']}"
        wait_for(lambda label=label: label in stack.output(), 30, f"the report of {label}")
        assert f"{name}#{entry['replica_index']}: restarting in" in stack.output()
        # back to full strength: a new process in its place, listed again
        wait_for(lambda name=name: len(stack.replicas(name)) == 2, 60, f"{name} to have 2 ready replicas again")
        assert entry["pid"] not in {e["pid"] for e in stack.replicas(name)}
    assert stack.ng_run.poll() is None


def test_under_the_stop_policy_a_dead_replica_ends_the_run_and_nothing_is_left_on_any_node(stack) -> None:
    (model,) = stack.replicas("policy_model")
    assert server_pids_on_nodes(stack.nodes)
    os.kill(model["pid"], signal.SIGKILL)
    assert stack.ng_run.wait(timeout=60) == 1
    output = stack.output()
    assert f"replica policy_model#0 of server 'policy_model' (pid {model['pid']}" in output
    assert "NeMo Gym finished!" in output
    leftovers = wait_for(lambda: not server_pids_on_nodes(stack.nodes) or None, 15, "the nodes to be empty")
    assert leftovers is True
