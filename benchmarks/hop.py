"""One vllm_model hop against the scripted upstream, beside a bare uvicorn/FastAPI echo in the same run.

    python benchmarks/hop.py [--requests 3000] [--concurrency 64]

Prints one JSON line: requests/s and p50/p99 of each, the CPU-ms per request of each server process (the echo;
vllm_model and the scripted upstream), and the ratio (vllm_model rps / echo rps). The echo answers the same body
without any work, so the ratio is the share of a bare server's throughput that the Responses -> Chat
Completions -> Responses translation hop keeps on this machine. The load generator and the scripted upstream
run in processes of their own (sharing one would make each wait for the other's interpreter lock).
"""

import argparse
import asyncio
import json

import psutil

from benchmarks.harness import ROOT, add_logs_argument, free_port, load, logs_folder, machine, python_process
from nemo_gym.testing.servers import run_entrypoint

ECHO = """
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
app = FastAPI()
@app.get("/health")
async def health(): return {{"status": "ok"}}
@app.post("/v1/responses")
async def echo(request: Request): return Response(await request.body(), media_type="application/json")
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", loop="uvloop", http="httptools")
"""

UPSTREAM = "from nemo_gym.testing.scripted_upstream import main; main(['--port', '{port}'])"

BODY = {"input": [{"role": "user", "content": "What is the weather in Paris?"}], "max_output_tokens": 64}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    add_logs_argument(parser)
    args = parser.parse_args()
    logs = logs_folder(args, "hop_")
    results = {}
    upstream_port = free_port()
    with python_process(UPSTREAM.format(port=upstream_port), upstream_port, logs / "upstream.log") as upstream:
        model_port, echo_port = free_port(), free_port()
        config = {
            "policy_model": {
                "responses_api_models": {
                    "vllm_model": {
                        "entrypoint": "app.py",
                        "host": "127.0.0.1",
                        "port": model_port,
                        "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                        "api_key": "EMPTY",
                        "model": "scripted",
                        "return_token_id_information": False,
                        "uses_reasoning_parser": False,
                    }
                }
            },
            "head_server": {"host": "127.0.0.1", "port": free_port()},
        }
        with python_process(ECHO.format(port=echo_port), echo_port, logs / "echo.log") as echo:
            url = f"http://127.0.0.1:{echo_port}/v1/responses"
            results["echo"] = _measure(url, args, {"echo": echo.pid})
        model_dir = ROOT / "responses_api_models" / "vllm_model"
        with run_entrypoint(model_dir, "policy_model", config, logs / "vllm_model.log") as (_, model):
            url = f"http://127.0.0.1:{model_port}/v1/responses"
            results["vllm_model"] = _measure(url, args, {"vllm_model": model.pid, "upstream": upstream.pid})
    ratio = results["vllm_model"]["requests_per_s"] / results["echo"]["requests_per_s"]
    print(
        json.dumps(
            {
                "benchmark": "hop",
                "concurrency": args.concurrency,
                **results,
                "ratio_vllm_model_to_echo": round(ratio, 3),
                "machine": machine(),
            }
        )
    )


def _measure(url: str, args: argparse.Namespace, pids: dict[str, int]) -> dict:
    """Load ``url`` after a warm-up; the figures and each listed process's CPU-ms per request."""
    asyncio.run(load(url, BODY, 200, 8))
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    before = {name: sum(process.cpu_times()[:2]) for name, process in processes.items()}
    result = asyncio.run(load(url, BODY, args.requests, args.concurrency))
    result["cpu_ms_per_request"] = {
        name: round(1000 * (sum(process.cpu_times()[:2]) - before[name]) / args.requests, 3)
        for name, process in processes.items()
    }
    return result


if __name__ == "__main__":
    main()
