"""ng_run's start-up check of each model server's upstream: does ``GET <base_url>/models`` answer?

A wrong port or a vLLM that is still loading otherwise shows up only as rollouts failing after their retries.
By default each upstream is asked once, while the servers start, and one warning per silent URL is printed.
Config keys (top level):

- ``model_upstream_check: false`` skips the check;
- ``model_upstream_wait_s: <seconds>`` makes it a hard wait: ng_run polls until every upstream answers and stops
  with an error naming the silent URLs when the time is up (for a vLLM started beside ng_run).

Any HTTP answer counts as "answering" (a server that lists no models still answers); 401/403 is reported as a
credentials problem. URLs are shown with their user-info masked.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from nemo_gym.config.loader import resolve_subtree
from nemo_gym.config.schema import ServerInstance
from nemo_gym.config.secrets import scrubber
from nemo_gym.errors import ConfigError, SupervisorError

CHECK_KEY = "model_upstream_check"
WAIT_KEY = "model_upstream_wait_s"
REQUEST_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 1.0
# (url field, api-key field) of the model server implementations that talk to an OpenAI-compatible upstream
_UPSTREAM_FIELDS = (("base_url", "api_key"), ("openai_base_url", "openai_api_key"))
# Azure endpoints need an api-version on every path; their /models answer proves nothing more than a TCP connect.
_SKIPPED_IMPLEMENTATIONS = frozenset({"azure_openai_model"})


@dataclass(frozen=True)
class Upstream:
    server: str
    url: str  # the base URL as configured (ending in /v1 for vLLM)
    headers: dict[str, str]

    @property
    def models_url(self) -> str:
        return self.url.rstrip("/") + "/models"


def model_upstreams(config: dict[str, Any], instances: Iterable[ServerInstance]) -> list[Upstream]:
    """The upstream URLs of every model server (a list ``base_url`` gives one entry per URL)."""
    found: list[Upstream] = []
    for instance in instances:
        if instance.server_type != "responses_api_models" or instance.implementation in _SKIPPED_IMPLEMENTATIONS:
            continue
        try:
            fields = resolve_subtree(config, instance.name)[instance.server_type][instance.implementation]
        except (ConfigError, KeyError, TypeError):
            continue  # the server itself reports a config it cannot use
        for url_key, key_key in _UPSTREAM_FIELDS:
            urls = fields.get(url_key)
            if not urls:
                continue
            headers = {"Authorization": f"Bearer {fields[key_key]}"} if fields.get(key_key) else {}
            headers.update({str(k): str(v) for k, v in (fields.get("default_headers") or {}).items()})
            for url in [urls] if isinstance(urls, str) else list(urls):
                url = str(url).rstrip("/")
                if urlsplit(url).path in ("", "/"):
                    url += "/v1"  # vllm_model accepts a bare host:port and adds /v1
                found.append(Upstream(instance.name, url, headers))
            break
    return found


def probe(upstream: Upstream, timeout_s: float = REQUEST_TIMEOUT_S) -> str | None:
    """``None`` when the upstream answers; otherwise why it does not (one short phrase)."""
    try:
        response = httpx.get(upstream.models_url, headers=upstream.headers, timeout=timeout_s)
    except httpx.TimeoutException:
        return f"no answer within {timeout_s:g}s"
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if response.status_code in (401, 403):
        return f"HTTP {response.status_code}: it refuses the configured API key"
    return None


def _probe_all(upstreams: list[Upstream]) -> list[tuple[Upstream, str]]:
    """``(upstream, problem)`` for each upstream that does not answer; all are asked at once."""
    problems: list[str | None] = [None] * len(upstreams)

    def run(index: int) -> None:
        problems[index] = probe(upstreams[index])

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(upstreams))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [(upstream, problem) for upstream, problem in zip(upstreams, problems, strict=True) if problem is not None]


def _describe(upstream: Upstream, problem: str) -> str:
    url = scrubber.scrub(upstream.models_url)
    return f"model server {upstream.server!r}: no answer from its upstream at {url} ({problem})"


def check_model_upstreams(
    config: Any,
    upstreams: list[Upstream],
    say: Callable[[str], None],
    stop: threading.Event,
) -> None:
    """Warn once per silent upstream, or (with ``model_upstream_wait_s``) wait for all and fail on time-out."""
    if not upstreams or config.get(CHECK_KEY, True) is False:
        return
    wait_s = config.get(WAIT_KEY)
    problems = _probe_all(upstreams)
    if wait_s is None or float(wait_s) <= 0:
        for upstream, problem in problems:
            say(
                f"WARNING: {_describe(upstream, problem)}; rollouts will fail until it answers. Check the URL and "
                f"that the model endpoint is up (+{WAIT_KEY}=<seconds> makes ng_run wait for it)."
            )
        return
    deadline = time.monotonic() + float(wait_s)
    if problems:
        say(f"Waiting up to {float(wait_s):g}s ({WAIT_KEY}) for {len(problems)} model upstream(s) to answer...")
    while problems and not stop.is_set():
        if time.monotonic() >= deadline:
            silent = "; ".join(_describe(upstream, problem) for upstream, problem in problems)
            raise SupervisorError(f"model upstreams not answering after {float(wait_s):g}s ({WAIT_KEY}): {silent}")
        stop.wait(POLL_INTERVAL_S)
        problems = _probe_all([upstream for upstream, _ in problems])
    if not stop.is_set():
        say(f"All {len(upstreams)} model upstream(s) answer")
