"""The deployments the guide promises: remote bind, PID 1 in a container, an existing Ray cluster, isolated envs."""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from nemo_gym.config.ports import find_open_port
from nemo_gym.runtime.ray_setup import LocalRayCluster
from nemo_gym.testing.responses import user_message, verify_request
from tests.e2e.ngrun_harness import NG_RUN, NgRun

CONFIG = "+config_paths=[configs/two_servers.yaml]"
ENV_YAML = "relay_secret_api_key: sk-deploy-secret-0001\n"


@pytest.fixture()
def runs():
    started: list[NgRun] = []
    yield started
    for run in started:
        run.kill_everything()


def test_remote_bind_serves_on_all_interfaces_and_warns(tmp_path, runs) -> None:
    run = NgRun(tmp_path, CONFIG, "+default_host=0.0.0.0", env_yaml=ENV_YAML)
    runs.append(run)
    records = run.wait_ready()
    assert "reachable from the network" in run.output()
    other_address = "127.0.0.2"  # another address of this machine, not the one the servers were told about
    head = httpx.get(f"http://{other_address}:{run.head_port}/server_instances", timeout=5).json()
    assert {record["host"] for record in head} == {"0.0.0.0"}
    relay = next(record for record in records if record["process_name"] == "relay_test")
    reply = httpx.post(f"http://{other_address}:{relay['port']}/relay", json={"times": 2}, timeout=30)
    assert reply.json() == {"count": 2}
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(20) == 0


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare")
def test_ng_run_as_pid_1_stops_cleanly_on_sigterm(tmp_path) -> None:
    """What `docker stop` does to a container whose CMD is ng_run: SIGTERM to PID 1 of a PID namespace."""
    NgRun.__new__(NgRun)  # reuse the fixture copy and paths without starting ng_run directly
    root = tmp_path / "root"
    shutil.copytree(NgRun.fixture_root(), root)
    (root / "env.yaml").write_text(ENV_YAML)
    head_port = find_open_port()
    log_path = tmp_path / "pid1.log"
    env = {**os.environ, "NEMO_GYM_ROOT": str(root), "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    with log_path.open("wb") as log:
        outer = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", *NG_RUN, CONFIG, f"+head_server.port={head_port}"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 180
            while "servers ready" not in log_path.read_text(errors="replace"):
                assert outer.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            ng_run_pid = next(child.pid for child in __import__("psutil").Process(outer.pid).children())
            with open(f"/proc/{ng_run_pid}/status") as status:
                assert any(line.split() == ["NSpid:", str(ng_run_pid), "1"] for line in status)
            os.kill(ng_run_pid, signal.SIGTERM)
            assert outer.wait(timeout=30) == 0
        finally:
            if outer.poll() is None:
                outer.kill()
    output = log_path.read_text()
    assert "NeMo Gym finished!" in output and "killing it" not in output


@pytest.fixture()
def external_ray(monkeypatch) -> Iterator[LocalRayCluster]:
    """A cluster started outside ng_run (as a trainer's would be), protected by Ray's token auth.

    Its token is where the user says (``RAY_AUTH_TOKEN_PATH``), as docs/deployment.md tells users to set it.
    """
    cluster = LocalRayCluster()
    cluster.start()
    for name, value in cluster.child_env({}).items():
        monkeypatch.setenv(name, value)
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.parametrize("how", ["config", "RAY_ADDRESS"])
def test_joins_an_existing_ray_cluster_and_leaves_it_running(tmp_path, runs, monkeypatch, how, external_ray) -> None:
    address = external_ray.address
    if how == "config":
        run = NgRun(tmp_path, CONFIG, f"+ray_head_node_address={address}", env_yaml=ENV_YAML)
    else:
        monkeypatch.setenv("RAY_ADDRESS", address)
        run = NgRun(tmp_path, CONFIG, env_yaml=ENV_YAML, keep_ray_address=True)
    runs.append(run)
    records = run.wait_ready()
    assert "Starting Ray cluster" not in run.output()
    counter = next(record for record in records if record["process_name"] == "counter_test")
    info = httpx.post(f"{counter['url']}/ray_info", json={}, timeout=60).json()
    # Ray reports the cluster by the node's own IP; one machine, same GCS port: the same cluster
    port = address.rsplit(":", 1)[1]
    assert info["connected"] is True
    assert info["gcs_address"].rsplit(":", 1)[1] == port and info["task_gcs"].rsplit(":", 1)[1] == port
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(20) == 0
    assert external_ray.process.poll() is None, "ng_run must leave a cluster it joined running"
    socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), timeout=2).close()


def test_isolated_envs_are_built_once_and_cached(tmp_path, runs) -> None:
    first = NgRun(tmp_path, "+config_paths=[configs/shared_folder.yaml]", "+isolated_envs=true", env_yaml=ENV_YAML)
    runs.append(first)
    records = first.wait_ready(timeout_s=300)
    venv_python = first.root / "resources_servers" / "counter_test" / ".venv" / "bin" / "python"
    assert venv_python.is_file()
    for record in records:  # both instances share the folder, hence the one venv built under a lock
        assert os.path.realpath(f"/proc/{record['pid']}/exe") == os.path.realpath(venv_python) or (
            str(venv_python) in " ".join(open(f"/proc/{record['pid']}/cmdline").read().split("\0"))
        )
    site_packages = next((venv_python.parent.parent / "lib").glob("python*/site-packages"))
    assert (site_packages / "tomli_w").is_dir()
    assert first.output().count("building isolated environment") == 1
    first.process.send_signal(signal.SIGTERM)
    assert first.wait_exit(20) == 0

    second = NgRun(
        tmp_path / "again",
        "+config_paths=[configs/shared_folder.yaml]",
        "+isolated_envs=true",
        env_yaml=ENV_YAML,
        root=first.root,
    )
    runs.append(second)
    second.wait_ready(timeout_s=120)
    assert "building isolated environment" not in second.output()
    assert "isolated environment up to date (cached)" in second.output()
    second.process.send_signal(signal.SIGTERM)
    assert second.wait_exit(20) == 0


def test_math_verifier_ray_tasks_run_on_the_joined_cluster(tmp_path, runs, external_ray) -> None:
    """The real math_with_judge server under ng_run, attached to an external cluster: verify runs through it."""
    address = external_ray.address
    root = tmp_path / "root"
    shutil.copytree(NgRun.fixture_root(), root)
    repo = NgRun.fixture_root().parents[2]
    shutil.copytree(
        repo / "resources_servers" / "math_with_judge",
        root / "resources_servers" / "math_with_judge",
        ignore=shutil.ignore_patterns("__pycache__", ".venv"),
    )
    (root / "configs" / "math.yaml").write_text(
        "math:\n  resources_servers:\n    math_with_judge:\n      entrypoint: app.py\n      domain: math\n"
    )
    run = NgRun(tmp_path / "run", "+config_paths=[configs/math.yaml]", f"+ray_head_node_address={address}", root=root)
    runs.append(run)
    records = run.wait_ready()
    assert "Starting Ray cluster" not in run.output()
    body = verify_request("so \\boxed{2}", input=[user_message("1+1?")], expected_answer="2")
    reply = httpx.post(f"{records[0]['url']}/verify", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.json()["reward"] == 1.0
    # The math server is a driver of that cluster (connected to its GCS), and no other cluster was started,
    # so the Ray tasks behind the reward above ran on it.
    gcs_port = int(address.rsplit(":", 1)[1])
    connections = psutil.Process(records[0]["pid"]).net_connections(kind="tcp")
    assert any(conn.raddr and conn.raddr.port == gcs_port for conn in connections)
    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(20) == 0
    assert external_ray.process.poll() is None
