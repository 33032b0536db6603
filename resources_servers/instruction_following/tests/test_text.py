import pytest

from resources_servers.instruction_following.checkers import text as t


def test_sentences_split_on_terminal_punctuation_followed_by_space():
    assert t.split_sentences("One. Two! Three? Four") == ["One.", "Two!", "Three?", "Four"]


def test_sentences_do_not_split_after_abbreviations_and_initials():
    text = "Dr. Smith met J. R. Jones in the U.S. last week, e.g. on Monday. Then he left."
    assert t.split_sentences(text) == [
        "Dr. Smith met J. R. Jones in the U.S. last week, e.g. on Monday.",
        "Then he left.",
    ]


def test_sentences_do_not_split_inside_numbers_or_after_list_numbers():
    assert t.split_sentences("Pi is 3.14 roughly. Steps:\n1. mix\n2. bake") == [
        "Pi is 3.14 roughly.",
        "Steps:\n1. mix\n2. bake",
    ]


def test_sentence_keeps_closing_quote():
    assert t.split_sentences('He said "stop." She did.') == ['He said "stop."', "She did."]


def test_empty_text_has_no_sentences():
    assert t.split_sentences("  \n ") == []


def test_words_are_runs_of_word_characters():
    assert t.words("It's 5 o'clock, isn't it?") == ["It", "s", "5", "o", "clock", "isn", "t", "it"]


def test_tokens_split_punctuation_off_words():
    assert t.tokens("NASA's rover!") == ["NASA", "'", "s", "rover", "!"]


@pytest.mark.parametrize(
    ("actual", "relation", "target", "expected"),
    [(1, "less than", 2, True), (2, "less than", 2, False), (2, "at least", 2, True), (1, "at least", 2, False)],
)
def test_compare(actual, relation, target, expected):
    assert t.compare(actual, relation, target) is expected


def test_compare_rejects_unknown_relation():
    with pytest.raises(ValueError, match="relation"):
        t.compare(1, "exactly", 1)


def test_divider_paragraphs_allow_leading_and_trailing_dividers_only():
    assert t.split_paragraphs_by_divider("***\nA\n***\nB\n***") == ["A", "B"]
    assert t.split_paragraphs_by_divider("A\n***\n***\nB") is None


def test_detect_language_is_deterministic():
    text = "Das ist ein kurzer deutscher Satz über das Wetter."
    assert {t.detect_language(text) for _ in range(5)} == {"de"}


def test_strip_word():
    assert t.strip_word('"Hello,') == "hello"
