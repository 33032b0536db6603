"""The one secret mask used by ng_dump_config, the head server, /server_instances, logs and written files.

A key is secret when its last word is key/token/secret/password (``policy_api_key``, ``hf_token``,
``client_secret``, the ``api-key`` header) or it contains ``apikey``/``password``/``secret``/``authorization``
anywhere (the ``Authorization`` header). Counts such as ``max_output_tokens`` and data such as
``prompt_token_ids`` are not secrets.

Masking is by value too: every value found under a secret key, the token of an ``Authorization: Bearer <token>``
value and the user-info of a URL (``http://user:sk-X@host``) are secret values; any string that equals or
contains one is masked wherever it appears (a key with an ordinary name holding ``${policy_api_key}``, a log
line, an error message), and URL user-info is always replaced by ``****``.
"""

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "****"
_SECRET_LAST_WORDS = frozenset({"key", "token", "secret", "password", "passwd", "apikey", "credentials"})
_SECRET_ANYWHERE = ("apikey", "password", "secret", "authorization")
_WORD_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
# Short values (e.g. "", "EMPTY", "none") would scrub innocent text; real secrets are longer.
_MIN_SCRUB_LENGTH = 6
# scheme://user-info@host: the user-info (a password or a token) is a secret whatever key holds the URL.
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s'\"<>]+)@")


def is_secret_key(key: Any) -> bool:
    if not isinstance(key, str) or not key:
        return False
    lowered = key.lower()
    if any(marker in lowered for marker in _SECRET_ANYWHERE):
        return True
    words = [word for word in _WORD_SPLIT.split(key) if word]
    return bool(words) and words[-1].lower() in _SECRET_LAST_WORDS


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` (plain dicts/lists) with secrets replaced by ``****``, at any depth.

    Masked: every secret-keyed leaf; in every other string, the secret values found in ``value`` itself or known
    to this process's ``scrubber`` (so ``z: ${policy_api_key}`` resolved is masked too) and URL user-info.
    """
    local = SecretScrubber()
    local.add(collect_secret_values(value))
    local.add(scrubber.values)
    return _mask(value, local)


def _mask(value: Any, known: "SecretScrubber") -> Any:
    if isinstance(value, Mapping):
        return {
            key: (MASK if is_secret_key(key) and _is_leaf(item) and item is not None else _mask(item, known))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_mask(item, known) for item in value]
    if isinstance(value, str):
        return known.scrub(value)
    return value


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def collect_secret_values(value: Any, found: set[str] | None = None) -> set[str]:
    """Every string found under a secret key in ``value`` (long enough to be scrubbed safely)."""
    found = set() if found is None else found
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_secret_key(key) and isinstance(item, str | int) and not isinstance(item, bool):
                text = str(item)
                found.add(text)
                # "Bearer <token>" / "Basic <credentials>": the token alone may be logged elsewhere.
                scheme, _, token = text.partition(" ")
                if token and scheme.isalpha():
                    found.add(token.strip())
            else:
                collect_secret_values(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            collect_secret_values(item, found)
    elif isinstance(value, str) and "@" in value:
        for match in _URL_USERINFO.finditer(value):
            userinfo = match.group("userinfo")
            found.add(userinfo)
            found.update(part for part in userinfo.split(":") if part)
    return {text for text in found if len(text) >= _MIN_SCRUB_LENGTH}


class SecretScrubber:
    """Replaces known secret values in free text. One process-wide instance: ``scrubber``."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def add(self, values: Iterable[str]) -> None:
        new = {value for value in values if isinstance(value, str) and len(value) >= _MIN_SCRUB_LENGTH}
        if new - self._values:
            self._values |= new
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in alternatives))

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value and every URL user-info replaced by ``****``."""
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if "@" in text:
            text = _URL_USERINFO.sub(lambda match: match.group("scheme") + MASK + "@", text)
        return text


scrubber = SecretScrubber()


class SecretScrubbingFilter(logging.Filter):
    """A logging filter that masks known secret values in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own problem to report
            return True
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
