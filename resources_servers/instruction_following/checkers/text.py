"""Text measurements shared by the checkers: words, sentences, paragraphs, relations and language.

Everything here is plain regular expressions so the server needs no NLTK/spaCy model download at start-up.
The sentence splitter follows what an English reader (and NLTK's punkt, which IFEval used) treats as a
boundary: terminal punctuation followed by whitespace, except after common abbreviations, initials and
list numbers. Language identification uses ``langdetect`` (PyPI), whose language profiles ship inside the
package; it is seeded so the same text always gets the same answer.
"""

from __future__ import annotations

import logging
import re

from langdetect import DetectorFactory, LangDetectException, detect

logger = logging.getLogger(__name__)

# langdetect is randomised; a fixed seed makes rewards reproducible.
DetectorFactory.seed = 0

LESS_THAN = "less than"
AT_LEAST = "at least"
RELATIONS = (LESS_THAN, AT_LEAST)

_WORD_RE = re.compile(r"\w+")
# Tokens as a word tokenizer sees them: runs of word characters, or single non-space symbols.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END_RE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co corp no fig approx dept est mt jan feb mar apr jun jul "
    "aug sep sept oct nov dec u.s u.k a.m p.m al cf ca gen gov sen rep lt col capt sgt ave blvd".split()
)


def compare(actual: int, relation: str, target: int) -> bool:
    """``relation`` is one of ``"less than"`` (strict) or ``"at least"``; anything else is a ValueError."""
    if relation == LESS_THAN:
        return actual < target
    if relation == AT_LEAST:
        return actual >= target
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


def words(text: str) -> list[str]:
    """Runs of word characters (letters, digits, underscore), as IFEval's ``\\w+`` tokenizer counts them."""
    return _WORD_RE.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


def tokens(text: str) -> list[str]:
    """Words and punctuation marks as separate tokens (used where a word tokenizer was used upstream)."""
    return _TOKEN_RE.findall(text)


def _is_non_boundary(text: str, end_start: int, punctuation: str) -> bool:
    """True when the period at ``end_start`` closes an abbreviation, an initial or a list number."""
    if not punctuation.startswith(".") or len(punctuation.rstrip("\"'\u201d\u2019)]")) > 1:
        return False
    preceding = re.search(r"(\S+)$", text[:end_start])
    if preceding is None:
        return False
    token = preceding.group(1).lstrip("(\"'\u201c\u2018[")
    lowered = token.lower()
    if lowered in _ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isalpha():  # an initial such as "J. Smith"
        return True
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", lowered):  # dotted acronyms such as "U.S" in "U.S."
        return True
    if token.isdigit():  # a numbered list item "1." at the start of a line
        line_start = text.rfind("\n", 0, end_start) + 1
        return text[line_start:end_start].strip() == token
    return False


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences; empty pieces are dropped."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        if _is_non_boundary(text, match.start(), match.group(0)):
            continue
        piece = text[start : match.end()].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def split_paragraphs_by_divider(text: str) -> list[str] | None:
    """Paragraphs separated by the markdown divider ``***``; None when an inner paragraph is empty.

    Empty pieces are allowed only at the very start or end (a leading or trailing divider).
    """
    pieces = re.split(r"\s?\*\*\*\s?", text)
    paragraphs: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.strip():
            paragraphs.append(piece)
        elif index not in (0, len(pieces) - 1):
            return None
    return paragraphs


def split_paragraphs_by_blank_line(text: str) -> list[str]:
    """Pieces between two consecutive line breaks (``\\n\\n``), with the empty ones dropped."""
    return [piece for piece in re.split(r"\n\n", text) if piece.strip()]


def strip_word(word: str) -> str:
    """A word without surrounding punctuation, lower-cased: ``'"Hello,'`` -> ``hello``."""
    return re.sub(r"^[^\w]+|[^\w]+$", "", word).lower()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when the text has nothing to go by."""
    try:
        return detect(text)
    except LangDetectException as error:
        logger.debug("language detection failed: %s", error)
        return None
