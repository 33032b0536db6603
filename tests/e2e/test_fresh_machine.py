"""A machine that has never run Ray: no ``~/.ray``, no token, nothing in ``/tmp/ray``; and nothing left afterwards."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from nemo_gym.errors import SupervisorError
from nemo_gym.runtime.ray_setup import LocalRayCluster, explain_ray_failure
from tests.e2e.ngrun_harness import NgRun

CONFIG = "+config_paths=[configs/two_servers.yaml]"
ENV_YAML = "relay_secret_api_key: sk-fresh-machine\n"
RAY_POINTER = Path("/tmp/ray/ray_current_cluster")


def fresh_machine_env(home: Path) -> dict[str, str]:
    """This process's environment as a new user would have it: an empty home and no Ray settings at all."""
    home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env["HOME"] = str(home)
    env.pop("XDG_CACHE_HOME", None)
    return env


def pointer() -> str | None:
    try:
        return RAY_POINTER.read_text()
    except OSError:
        return None


def test_ng_run_starts_ray_and_servers_in_an_empty_home_and_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pointer_before = pointer()
    run = NgRun(tmp_path / "run", CONFIG, env_yaml=ENV_YAML, base_env=fresh_machine_env(home))
    try:
        records = run.wait_ready()
        assert {record["process_name"] for record in records} == {"counter_test", "relay_test"}
        folder = run_ray_folder(run)
        assert folder.is_dir() and (folder / "auth_token").stat().st_mode & 0o077 == 0
        counter = next(record for record in records if record["process_name"] == "counter_test")
        # a server joins the run's token-protected cluster when it first submits a task
        info = httpx.post(f"{counter['url']}/ray_info", json={}, timeout=120).json()
        assert info["connected"] is True
        run.process.send_signal(signal.SIGINT)
        assert run.wait_exit(timeout_s=30) == 0, run.output()
        assert run.leftover_processes() == []
    finally:
        run.kill_everything()
    output = run.output()
    assert "AuthenticationError" not in output and "Traceback" not in output
    assert list(home.iterdir()) == [], "ng_run wrote into the user's home"
    assert not folder.exists(), "the run's Ray folder (token, sessions) was left behind"
    assert pointer() == pointer_before, "ng_run changed /tmp/ray/ray_current_cluster"


def run_ray_folder(run: NgRun) -> Path:
    """The private folder of the run's Ray cluster, as handed to its servers (RAY_AUTH_TOKEN_PATH)."""
    for process in run.descendants:
        token_path = process.environ().get("RAY_AUTH_TOKEN_PATH")
        if token_path:
            return Path(token_path).parent
    raise AssertionError("no server process was given the run's Ray token")


def test_a_plain_ray_init_works_after_ng_run_exits(tmp_path: Path) -> None:
    """A later ``ray.init()`` on the machine must not try to join the cluster that ng_run stopped."""
    env = fresh_machine_env(tmp_path / "home")
    run = NgRun(tmp_path / "run", CONFIG, env_yaml=ENV_YAML, base_env=env)
    try:
        run.wait_ready()
        run.process.send_signal(signal.SIGTERM)
        assert run.wait_exit(timeout_s=30) == 0, run.output()
    finally:
        run.kill_everything()
    ray_tmp_existed = RAY_POINTER.parent.exists()
    sessions_before = set(RAY_POINTER.parent.glob("session_*"))
    script = "import ray; ray.init(include_dashboard=False); assert ray.cluster_resources().get('CPU'); print('ok')"
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
    finally:  # the new cluster's files are this test's: leave /tmp/ray as it was
        if not ray_tmp_existed:
            shutil.rmtree(RAY_POINTER.parent, ignore_errors=True)
        else:
            for session in set(RAY_POINTER.parent.glob("session_*")) - sessions_before:
                shutil.rmtree(session, ignore_errors=True)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


class FailingRayCluster(LocalRayCluster):
    """``ray start`` exits at once with what Ray 2.5x prints when no token can be found."""

    def start_command(self) -> list[str]:
        stderr = (
            "Traceback (most recent call last):\n"
            '  File "ray/_private/node.py", line 1187, in start_head_processes\n'
            "    (system_config, create_token_if_missing=False)\n"
            "ray.exceptions.AuthenticationError: Token authentication is enabled but no authentication token "
            "was found.\n"
        )
        return [sys.executable, "-c", f"import sys; sys.stderr.write({stderr!r}); sys.exit(1)"]


def test_a_ray_that_refuses_to_start_is_one_line_that_says_what_to_do() -> None:
    cluster = FailingRayCluster()
    cluster.start()
    try:
        with pytest.raises(SupervisorError) as raised:
            cluster.wait_ready(timeout_s=30)
    finally:
        cluster.stop()
    message = str(raised.value)
    assert "\n" not in message
    assert "exit code 1" in message and "AuthenticationError: Token authentication is enabled" in message
    assert "ray_head_node_address" in message
    assert not cluster.private.folder.exists()


def test_ray_failure_explanation_takes_the_last_error_line() -> None:
    stderr = "Usage stats collection is disabled.\nSome warning\nValueError: port 6379 is taken\n\n"
    assert "ValueError: port 6379 is taken" in explain_ray_failure(1, stderr)
    assert "no output" in explain_ray_failure(-9, "")
