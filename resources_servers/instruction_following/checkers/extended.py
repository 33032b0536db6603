"""Checkers for the IFEval-extension ids (IFBench / "IFEval-like" training data) that the instruction
following datasets mix with the original IFEval ids.

Each docstring quotes the rule as a model is told it and says exactly how it is checked.
"""

from __future__ import annotations

import re

from resources_servers.instruction_following.checkers import text as t
from resources_servers.instruction_following.checkers.ifeval import TWO_RESPONSES_SEPARATOR
from resources_servers.instruction_following.checkers.registry import register


def _whole_word_count(keyword: str, text: str) -> int:
    return len(re.findall(r"\b" + re.escape(keyword) + r"\b", text, flags=re.IGNORECASE))


def _sentence_words(sentence: str) -> list[str]:
    return [w for w in (t.strip_word(token) for token in sentence.split()) if w]


# ------------------------------------------------------------------------------------------ first / last word


@register("first_word:first_word_answer")
def first_word_answer(text: str, *, first_word: str) -> bool:
    """Prompt: "The first word of your response should be the word X." (case and punctuation ignored)"""
    found = _sentence_words(text)
    return bool(found) and found[0] == first_word.lower()


@register("first_word:first_word_sent")
def first_word_sent(text: str, *, first_word: str) -> bool:
    """Prompt: "The first word of each sentence should be the word X." (case and punctuation ignored)"""
    sentences = t.split_sentences(text)
    if not sentences:
        return False
    for sentence in sentences:
        found = _sentence_words(sentence)
        if not found or found[0] != first_word.lower():
            return False
    return True


@register("last_word:last_word_answer")
def last_word_answer(text: str, *, last_word: str) -> bool:
    """Prompt: "The last word of your response should be the word X." (case and punctuation ignored)"""
    found = _sentence_words(text)
    return bool(found) and found[-1] == last_word.lower()


@register("last_word:last_word_sent")
def last_word_sent(text: str, *, last_word: str) -> bool:
    """Prompt: "The last word of each sentence, before punctuation, should be the word X." (case ignored)"""
    sentences = t.split_sentences(text)
    if not sentences:
        return False
    for sentence in sentences:
        found = _sentence_words(sentence)
        if not found or found[-1] != last_word.lower():
            return False
    return True


# ------------------------------------------------------------------------------------------------ paragraphs


@register("paragraphs:paragraphs")
def paragraphs_divider(text: str) -> bool:
    """Prompt: "There should be 2 paragraphs. Paragraphs are separated with the markdown divider: ***"."""
    paragraphs = t.split_paragraphs_by_divider(text)
    return paragraphs is not None and len(paragraphs) == 2


@register("paragraphs:paragraphs2")
def paragraphs_blank_line(text: str) -> bool:
    """Prompt: "There should be 2 paragraphs. Paragraphs and only paragraphs are separated with each other by two
    line breaks." Exactly two non-empty pieces between ``\\n\\n`` separators, no empty piece in between."""
    pieces = re.split(r"\n\n", text.strip())
    return len(pieces) == 2 and all(piece.strip() for piece in pieces)


# ---------------------------------------------------------------------------------------------------- count


@register("count:lowercase_counting")
def count_lowercase_words(text: str, *, N: int) -> bool:  # noqa: N803 - the datasets' kwarg name
    """Prompt: "In your response, all lowercase words should appear at most N times." At most N all-lowercase words."""
    return len(re.findall(r"\b[a-z]+\b", text)) <= int(N)


@register("count:count_unique")
def count_unique(text: str) -> bool:
    """Prompt: "Only use unique words in your response, no word should be repeated!" (case-insensitive)"""
    found = [word.lower() for word in t.words(text)]
    return bool(found) and len(found) == len(set(found))


@register("count:count_increment_word")
def count_increment_word(text: str, *, keyword1: str, keyword2: str) -> bool:
    """Prompt: "Include keyword K1 once in your response, keyword K2 twice in your response." (whole words)"""
    return _whole_word_count(keyword1, text) == 1 and _whole_word_count(keyword2, text) == 2


@register("count:counting_composition")
def count_counting_composition(text: str, *, n_sent: int, n_words: int) -> bool:
    """Prompt: "Write 3 paragraphs, delimited by the markdown divider: * * *, with exactly n_sent sentences each, with
    exactly n_words words in each sentence." (``***`` is accepted as the divider too)"""
    paragraphs = [p for p in re.split(r"\s?\*\s?\*\s?\*\s?", text) if p.strip()]
    if len(paragraphs) != 3:
        return False
    for paragraph in paragraphs:
        sentences = t.split_sentences(paragraph)
        if len(sentences) != int(n_sent):
            return False
        if any(t.count_words(sentence) != int(n_words) for sentence in sentences):
            return False
    return True


# -------------------------------------------------------------------------------------------------- letters


@register("letters:letter_counting")
def letters_letter_counting(text: str, *, N: int, relation: str) -> bool:  # noqa: N803
    """Prompt: "Answer with <relation> N letters." Counts the ASCII letters of the response."""
    return t.compare(len(re.findall(r"[a-zA-Z]", text)), relation, int(N))


@register("letters:letter_counting2")
def letters_letter_counting2(text: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """Prompt: "In your response, the letter X should appear <let_relation> <let_frequency> times."
    (case-insensitive)"""
    return t.compare(text.lower().count(letter.lower()), let_relation, int(let_frequency))


# ---------------------------------------------------------------------------------------------- punctuation


@register("punctuation:punctuation_dot")
def punctuation_dot(text: str) -> bool:
    """Prompt: "In your entire response, refrain from the use of . (i.e. dots) as punctuation and in general."
    No dot anywhere."""
    return "." not in text


@register("punctuation:punctuation_exclamation")
def punctuation_exclamation(text: str) -> bool:
    """Prompt: "In your entire response, refrain from the use of ! (i.e. exclamation marks) as punctuation and in
    general." No exclamation mark anywhere."""
    return "!" not in text


# ------------------------------------------------------------------------------------------------- keywords


@register("keywords:word_once")
def keywords_word_once(text: str, *, keyword: str) -> bool:
    """Prompt: "Include keyword X in your response." The keyword occurs at least once as a whole word."""
    return _whole_word_count(keyword, text) >= 1


@register("keywords:exclude_word_harder")
def keywords_exclude_word_harder(text: str, *, keyword: str) -> bool:
    """Prompt: "Do not include keyword X in the response." The keyword does not occur as a whole word."""
    return _whole_word_count(keyword, text) == 0


@register("keywords:word_count_different_numbers")
def keywords_word_count_different_numbers(text: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """Prompt: "In your response, the word X should appear <relation> <frequency> times." (whole words)"""
    return t.compare(_whole_word_count(keyword, text), relation, int(frequency))


@register("keywords:palindrome")
def keywords_palindrome(text: str) -> bool:
    """Prompt: "Include a palindrome in your response." A word of 3+ letters that reads the same backwards."""
    return any(len(word) >= 3 and word == word[::-1] for word in re.findall(r"[a-z]+", text.lower()))


@register("keywords:start_end")
def keywords_start_end(text: str) -> bool:
    """Prompt: "Start and end your response with the same word (do not write anything after the last word, not even
    punctuation)." Case-insensitive; the response must end on a letter or digit."""
    stripped = text.strip()
    found = t.words(stripped)
    return len(found) >= 2 and found[0].lower() == found[-1].lower() and stripped[-1].isalnum()


@register("keywords:no_adjacent_consecutive")
def keywords_no_adjacent_consecutive(text: str) -> bool:
    """Prompt: "No two adjacent words can start with consecutive letters of the alphabet." (either order)"""
    initials = [word[0].lower() for word in re.findall(r"[A-Za-z]+", text)]
    return all(abs(ord(a) - ord(b)) != 1 for a, b in zip(initials, initials[1:], strict=False))


@register("keywords:keyword_specific_position")
def keywords_keyword_specific_position(text: str, *, keyword: str, n: int, m: int) -> bool:
    """Prompt: "Include keyword X in the n-th sentence, as the m-th word of that sentence." (1-based)"""
    sentences = t.split_sentences(text)
    if not 1 <= int(n) <= len(sentences):
        return False
    found = _sentence_words(sentences[int(n) - 1])
    return 1 <= int(m) <= len(found) and found[int(m) - 1] == keyword.lower()


# ---------------------------------------------------------------------------------------------------- format


@register("detectable_format:square_brackets")
def format_square_brackets(text: str) -> bool:
    """Prompt: "Enclose every word in your response within square brackets." Every whitespace-separated token is
    ``[word]``, optionally followed by punctuation."""
    found = text.split()
    return bool(found) and all(re.fullmatch(r"\[[^\[\]\s]+\][.,!?;:]*", token) for token in found)


@register("detectable_format:sentence_hyphens")
def format_sentence_hyphens(text: str) -> bool:
    """Prompt: "All sentences must be connected using hyphens, with no spaces between them." At least two sentences,
    each hyphen-joined piece is one sentence, and no space touches a joining hyphen."""
    pieces = text.strip().split("-")
    if len(pieces) < 2:
        return False
    for piece in pieces:
        if not piece.strip() or piece != piece.strip() or t.count_sentences(piece) != 1:
            return False
    return True


@register("detectable_format:bigram_wrapping")
def format_bigram_wrapping(text: str) -> bool:
    """Prompt: "Wrap every word bigram in double angular brackets, such as <<I am>> <<at home>>." Every word sits in a
    ``<<...>>`` group of exactly two words (the last group may hold one word when the count is odd)."""
    groups = re.findall(r"<<([^<>]*)>>", text)
    outside = re.sub(r"<<[^<>]*>>", " ", text)
    if not groups or t.words(outside):
        return False
    sizes = [t.count_words(group) for group in groups]
    return all(size == 2 for size in sizes[:-1]) and sizes[-1] in (1, 2)


# ------------------------------------------------------------------------------------------------------ copy


@register("copy:copying_simple")
def copy_copying_simple(text: str, *, prompt_to_repeat: str) -> bool:
    """Prompt: "Repeat the request without change (do not say anything before repeating the request) and do not answer
    the actual request!" The response is exactly the request, surrounding whitespace ignored."""
    return text.strip() == prompt_to_repeat.strip()


@register("copy:copying_multiple")
def copy_copying_multiple(text: str, *, prompt_to_repeat: str, N: int) -> bool:  # noqa: N803
    """Prompt: "Repeat the request without change N times, separated by 6 asterisk symbols (******)." Exactly N
    pieces, each exactly the request."""
    pieces = text.strip().split(TWO_RESPONSES_SEPARATOR)
    return len(pieces) == int(N) and all(piece.strip() == prompt_to_repeat.strip() for piece in pieces)
