"""The schemathesis pass of ``benchmarks/fuzz.py``, small: every operation of every server of a whole ng_run stack
gets generated valid and invalid requests; no 500 at all, 502 only once the upstream is down, every server alive
after. (The full pass, ``--examples 50``, is reported in docs/reliability.md.)"""

import json
import subprocess
import sys

import pytest

from nemo_gym import PARENT_DIR


@pytest.mark.slow
def test_a_small_fuzz_pass_finds_no_500_and_no_unwarranted_502(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fuzz", "--examples", "2", "--local-examples", "1", "--logs", str(tmp_path)],
        cwd=PARENT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(lines[-1])
    assert report["violations"] == [], report["violations"][:5]
    assert report["all_servers_alive_after"]
    assert report["operations"] >= 25 and "500" not in report["statuses"]
    assert result.returncode == 0
