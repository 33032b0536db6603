"""The 25 instruction checkers of IFEval (Zhou et al., 2023), keyed by their original ids and kwargs names.

Each docstring states the rule that is checked. Keywords are matched literally (case-insensitively), not as
regular expressions, so a keyword such as ``c++`` cannot break the checker.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from resources_servers.instruction_following.checkers import text as t
from resources_servers.instruction_following.checkers.registry import register

CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
TWO_RESPONSES_SEPARATOR = "******"


def _contains(keyword: str, text: str) -> bool:
    return re.search(re.escape(keyword), text, flags=re.IGNORECASE) is not None


# ------------------------------------------------------------------------------------------------- keywords


@register("keywords:existence")
def keywords_existence(text: str, *, keywords: list[str]) -> bool:
    """Every keyword occurs (case-insensitive substring)."""
    return all(_contains(keyword, text) for keyword in keywords)


@register("keywords:frequency")
def keywords_frequency(text: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword occurs ``relation`` ``frequency`` times (case-insensitive, overlapping ignored)."""
    occurrences = len(re.findall(re.escape(keyword), text, flags=re.IGNORECASE))
    return t.compare(occurrences, relation, int(frequency))


@register("keywords:forbidden_words")
def keywords_forbidden_words(text: str, *, forbidden_words: list[str]) -> bool:
    """None of the words occurs as a whole word (case-insensitive)."""
    return not any(re.search(r"\b" + re.escape(word) + r"\b", text, flags=re.IGNORECASE) for word in forbidden_words)


@register("keywords:letter_frequency")
def keywords_letter_frequency(text: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """The letter (case-insensitive) occurs ``let_relation`` ``let_frequency`` times."""
    return t.compare(Counter(text.lower())[letter.lower()], let_relation, int(let_frequency))


# ------------------------------------------------------------------------------------------------- language


@register("language:response_language")
def language_response_language(text: str, *, language: str) -> bool:
    """The detected language (ISO 639-1) is ``language``.

    Text in which no language can be detected fails; the reference passes it, which rewards empty answers.
    """
    return t.detect_language(text) == language


# ----------------------------------------------------------------------------------------------- length


@register("length_constraints:number_sentences")
def length_number_sentences(text: str, *, num_sentences: int, relation: str) -> bool:
    """The sentence count is ``relation`` ``num_sentences``."""
    return t.compare(t.count_sentences(text), relation, int(num_sentences))


@register("length_constraints:number_paragraphs")
def length_number_paragraphs(text: str, *, num_paragraphs: int) -> bool:
    """Exactly ``num_paragraphs`` paragraphs separated by the markdown divider ``***``, none of them empty."""
    paragraphs = t.split_paragraphs_by_divider(text)
    return paragraphs is not None and len(paragraphs) == int(num_paragraphs)


@register("length_constraints:number_words")
def length_number_words(text: str, *, num_words: int, relation: str) -> bool:
    """The word count is ``relation`` ``num_words``."""
    return t.compare(t.count_words(text), relation, int(num_words))


@register("length_constraints:nth_paragraph_first_word")
def length_nth_paragraph_first_word(text: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """Exactly ``num_paragraphs`` paragraphs separated by blank lines, and the ``nth_paragraph``-th (1-based)
    starts with ``first_word`` (case-insensitive, leading quotes and trailing punctuation ignored)."""
    pieces = re.split(r"\n\n", text)
    non_empty = sum(1 for piece in pieces if piece.strip())
    nth = int(nth_paragraph)
    if nth < 1 or nth > non_empty or nth > len(pieces):
        return False
    paragraph = pieces[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].lstrip("'\"")
    found = re.match(r"[^.,?!'\"]*", word)
    found_word = found.group(0).lower() if found else ""
    return non_empty == int(num_paragraphs) and found_word == first_word.lower()


# ---------------------------------------------------------------------------------------------- content


@register("detectable_content:number_placeholders")
def content_number_placeholders(text: str, *, num_placeholders: int) -> bool:
    """At least ``num_placeholders`` square-bracket placeholders such as ``[address]``."""
    return len(re.findall(r"\[.*?\]", text)) >= int(num_placeholders)


@register("detectable_content:postscript")
def content_postscript(text: str, *, postscript_marker: str) -> bool:
    """A line (or line tail) starts with the postscript marker, e.g. ``P.S.`` or ``P.P.S``."""
    lowered = text.lower()
    if postscript_marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif postscript_marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(postscript_marker.lower()) + r".*$"
    return bool(re.findall(pattern, lowered, flags=re.MULTILINE))


# ----------------------------------------------------------------------------------------------- format


@register("detectable_format:number_bullet_lists")
def format_number_bullet_lists(text: str, *, num_bullets: int) -> bool:
    """Exactly ``num_bullets`` markdown bullet lines (``* item`` or ``- item``)."""
    star_bullets = re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE)
    dash_bullets = re.findall(r"^\s*-.*$", text, flags=re.MULTILINE)
    return len(star_bullets) + len(dash_bullets) == int(num_bullets)


@register("detectable_format:constrained_response")
def format_constrained_response(text: str) -> bool:
    """Contains one of "My answer is yes.", "My answer is no.", "My answer is maybe."."""
    stripped = text.strip()
    return any(option in stripped for option in CONSTRAINED_RESPONSE_OPTIONS)


@register("detectable_format:number_highlighted_sections")
def format_number_highlighted_sections(text: str, *, num_highlights: int) -> bool:
    """At least ``num_highlights`` non-empty markdown highlights (``*text*`` or ``**text**``) on one line."""
    singles = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    doubles = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h.removeprefix("**").removesuffix("**").strip()]
    return len(singles) + len(doubles) >= int(num_highlights)


@register("detectable_format:multiple_sections")
def format_multiple_sections(text: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least ``num_sections`` sections headed ``<section_spliter> <number>`` (e.g. ``SECTION 1``)."""
    pattern = r"\s?" + re.escape(section_spliter) + r"\s?\d+\s?"
    return len(re.split(pattern, text)) - 1 >= int(num_sections)


@register("detectable_format:json_format")
def format_json(text: str) -> bool:
    """The whole response (optionally inside a ```json fence) parses as JSON."""
    candidate = text.strip()
    for prefix in ("```json", "```Json", "```JSON", "```"):
        if candidate.startswith(prefix):
            candidate = candidate[len(prefix) :]
            break
    candidate = candidate.removesuffix("```").strip()
    try:
        json.loads(candidate)
    except ValueError:
        return False
    return True


@register("detectable_format:title")
def format_title(text: str) -> bool:
    """Contains a non-empty title in double angular brackets, such as ``<<poem of joy>>``."""
    return any(title.lstrip("<").rstrip(">").strip() for title in re.findall(r"<<[^\n]+>>", text))


# ------------------------------------------------------------------------------------------- combination


@register("combination:two_responses")
def combination_two_responses(text: str) -> bool:
    """Exactly two different non-empty responses separated by ``******``."""
    pieces = text.split(TWO_RESPONSES_SEPARATOR)
    responses: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.strip():
            responses.append(piece.strip())
        elif index not in (0, len(pieces) - 1):
            return False
    return len(responses) == 2 and responses[0] != responses[1]


@register("combination:repeat_prompt")
def combination_repeat_prompt(text: str, *, prompt_to_repeat: str) -> bool:
    """The response starts by repeating the request (case-insensitive)."""
    return text.strip().lower().startswith(prompt_to_repeat.strip().lower())


# ---------------------------------------------------------------------------------------------- startend


@register("startend:end_checker")
def startend_end_checker(text: str, *, end_phrase: str) -> bool:
    """The response ends with ``end_phrase`` (case-insensitive; surrounding double quotes ignored)."""
    return text.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@register("startend:quotation")
def startend_quotation(text: str) -> bool:
    """The whole response is wrapped in double quotation marks."""
    stripped = text.strip()
    return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'


# -------------------------------------------------------------------------------------------- change_case


@register("change_case:capital_word_frequency")
def change_case_capital_word_frequency(text: str, *, capital_frequency: int, capital_relation: str) -> bool:
    """The number of all-capital words is ``capital_relation`` ``capital_frequency``."""
    capital_words = [token for token in t.tokens(text) if token.isupper()]
    return t.compare(len(capital_words), capital_relation, int(capital_frequency))


@register("change_case:english_capital")
def change_case_english_capital(text: str) -> bool:
    """The response is in English and all its letters are capitals."""
    return text.isupper() and t.detect_language(text) == "en"


@register("change_case:english_lowercase")
def change_case_english_lowercase(text: str) -> bool:
    """The response is in English and all its letters are lowercase."""
    return text.islower() and t.detect_language(text) == "en"


# -------------------------------------------------------------------------------------------- punctuation


@register("punctuation:no_comma")
def punctuation_no_comma(text: str) -> bool:
    """No comma anywhere."""
    return "," not in text
