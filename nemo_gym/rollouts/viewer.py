"""``ng_viewer``'s web app: browse a rollout JSONL file one rollout at a time, filter by reward and text.

The file is indexed once (byte offset and reward of every line); rollouts are read from disk on demand, so a
large file needs little memory.
"""

import json
import math
from array import array
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from nemo_gym.rollouts.metrics import RolloutMetrics, numeric_value
from nemo_gym.rollouts.viewer_page import VIEWER_PAGE

MAX_PAGE_SIZE = 1000
SNIPPET_CHARS = 80


class RolloutIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offsets = array("q")
        self.rewards = array("d")
        self.unreadable: list[int] = []
        self.metrics = RolloutMetrics()
        self._num_repeats = 1
        offset = 0
        with path.open("rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    row = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self.unreadable.append(line_number)
                    continue
                if not isinstance(row, dict):
                    self.unreadable.append(line_number)
                    continue
                self.offsets.append(start)
                reward = numeric_value(row.get("reward"))
                self.rewards.append(math.nan if reward is None else reward)
                self.metrics.add(row)
                meta = row.get("_ng_rollout")
                if isinstance(meta, dict) and isinstance(meta.get("repeat"), int):
                    self._num_repeats = max(self._num_repeats, meta["repeat"] + 1)

    def __len__(self) -> int:
        return len(self.offsets)

    def raw(self, index: int) -> bytes:
        with self.path.open("rb") as handle:
            handle.seek(self.offsets[index])
            return handle.readline()

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "count": len(self),
            "unreadable_lines": self.unreadable[:100],
            "metrics": self.metrics.summary(self._num_repeats),
        }

    def search(self, min_reward: float | None, max_reward: float | None, text: str | None) -> list[int]:
        """Indices of rollouts whose reward lies in the bounds and whose JSON contains ``text`` (any case)."""
        needle = (text or "").strip().lower()
        matches = []
        handle = self.path.open("rb") if needle else None
        try:
            for index, reward in enumerate(self.rewards):
                if min_reward is not None and not (reward >= min_reward):
                    continue
                if max_reward is not None and not (reward <= max_reward):
                    continue
                if handle is not None:
                    handle.seek(self.offsets[index])
                    if not _contains(handle.readline(), needle):
                        continue
                matches.append(index)
        finally:
            if handle is not None:
                handle.close()
        return matches

    def snippet(self, index: int) -> str:
        """The first user message of a rollout, shortened, for the list of matches."""
        try:
            row = orjson.loads(self.raw(index))
            params = row.get("responses_create_params") or {}
            items = params.get("input")
            if isinstance(items, str):
                text = items
            else:
                user = next(item for item in items or [] if isinstance(item, dict) and item.get("role") == "user")
                content = user.get("content")
                text = (
                    content
                    if isinstance(content, str)
                    else " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))
                )
        except (StopIteration, AttributeError, TypeError, orjson.JSONDecodeError):
            return ""
        text = " ".join(text.split())
        return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _contains(raw: bytes, needle: str) -> bool:
    text = raw.decode(errors="replace").lower()
    if needle in text:
        return True
    if "\\u" in text or "\\n" in text:  # escaped characters: compare against the decoded strings
        try:
            return needle in json.dumps(json.loads(raw), ensure_ascii=False).lower()
        except ValueError:
            return False
    return False


def _reward_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def build_viewer_app(path: str | Path) -> FastAPI:
    index = RolloutIndex(Path(path))
    app = FastAPI(title=f"NeMo Gym rollouts: {Path(path).name}")

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return VIEWER_PAGE

    @app.get("/api/summary")
    def summary() -> Response:
        return Response(orjson.dumps(index.summary()), media_type="application/json")

    @app.get("/api/search")
    def search(
        min_reward: float | None = None,
        max_reward: float | None = None,
        q: str | None = None,
        offset: int = Query(default=0, ge=0),
        limit: int = Query(default=200, ge=1, le=MAX_PAGE_SIZE),
    ) -> Response:
        matches = index.search(min_reward, max_reward, q)
        page = matches[offset : offset + limit]
        items = [{"index": i, "reward": _reward_or_none(index.rewards[i]), "snippet": index.snippet(i)} for i in page]
        body = {"total": len(matches), "offset": offset, "items": items, "matches": matches[:100000]}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/api/rollouts/{number}")
    def rollout(number: int) -> Response:
        if not 0 <= number < len(index):
            raise HTTPException(status_code=404, detail=f"no rollout {number}; the file has {len(index)}")
        return Response(index.raw(number).rstrip(b"\n"), media_type="application/json")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
