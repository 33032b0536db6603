"""The one secret mask used by ng_dump_config, the head server, /server_instances, logs and written files.

A key is secret when its last word is key/token/secret/password (``policy_api_key``, ``hf_token``,
``client_secret``) or it contains ``apikey``/``password``/``secret`` anywhere. Counts such as
``max_output_tokens`` and data such as ``prompt_token_ids`` are not secrets. Values that were found under a
secret key are also scrubbed wherever they appear as text (an env.yaml value interpolated into a URL, a log line).
"""

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "****"
_SECRET_LAST_WORDS = frozenset({"key", "token", "secret", "password", "passwd", "apikey", "credentials"})
_SECRET_ANYWHERE = ("apikey", "password", "secret")
_WORD_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
# Short values (e.g. "", "EMPTY", "none") would scrub innocent text; real secrets are longer.
_MIN_SCRUB_LENGTH = 6


def is_secret_key(key: Any) -> bool:
    if not isinstance(key, str) or not key:
        return False
    lowered = key.lower()
    if any(marker in lowered for marker in _SECRET_ANYWHERE):
        return True
    words = [word for word in _WORD_SPLIT.split(key) if word]
    return bool(words) and words[-1].lower() in _SECRET_LAST_WORDS


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` (plain dicts/lists) with every secret-keyed leaf replaced by ``****``, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: (MASK if is_secret_key(key) and _is_leaf(item) and item is not None else mask_secrets(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def collect_secret_values(value: Any, found: set[str] | None = None) -> set[str]:
    """Every string found under a secret key in ``value`` (long enough to be scrubbed safely)."""
    found = set() if found is None else found
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_secret_key(key) and isinstance(item, str) and len(item) >= _MIN_SCRUB_LENGTH:
                found.add(item)
            else:
                collect_secret_values(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            collect_secret_values(item, found)
    return found


class SecretScrubber:
    """Replaces known secret values in free text. One process-wide instance: ``scrubber``."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        new = {value for value in values if isinstance(value, str) and len(value) >= _MIN_SCRUB_LENGTH}
        if new - self._values:
            self._values |= new
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in alternatives))

    def scrub(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


scrubber = SecretScrubber()


class SecretScrubbingFilter(logging.Filter):
    """A logging filter that masks known secret values in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if scrubber._pattern is not None:
            message = record.getMessage()
            scrubbed = scrubber.scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


def install_log_scrubbing(config: Any) -> None:
    """Learn the secrets of ``config`` and mask them in every log handler of this process."""
    scrubber.add(collect_secret_values(config))
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, SecretScrubbingFilter) for f in handler.filters):
            handler.addFilter(SecretScrubbingFilter())
