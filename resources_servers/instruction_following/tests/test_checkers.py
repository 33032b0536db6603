"""Every registered checker, on a response that follows it and on one that does not."""

import pytest

from resources_servers.instruction_following.checkers import INSTRUCTION_DICT
from resources_servers.instruction_following.grading import is_followed

ENGLISH_LOWER = "the quick brown fox jumps over the lazy dog while the farmer watches from the porch"

# (instruction_id, kwargs, follows, does_not_follow)
CASES = [
    ("keywords:existence", {"keywords": ["Paris", "river"]}, "In paris the RIVER is wide.", "Paris is big."),
    (
        "keywords:frequency",
        {"keyword": "cat", "frequency": 2, "relation": "at least"},
        "Cat and cat.",
        "One cat only.",
    ),
    (
        "keywords:frequency",
        {"keyword": "cat", "frequency": 2, "relation": "less than"},
        "One cat only.",
        "Cat and cat.",
    ),
    ("keywords:forbidden_words", {"forbidden_words": ["red", "blue"]}, "Reddish hues.", "A Blue sky."),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 3, "let_relation": "at least"},
        "Zig zag zoo",
        "zig zag",
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 3, "let_relation": "less than"},
        "zig zag",
        "Zig zag zoo",
    ),
    (
        "language:response_language",
        {"language": "fr"},
        "Bonjour, je voudrais réserver une table pour deux personnes ce soir.",
        "Hello, I would like to book a table for two people tonight.",
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "One. Two! Three?",
        "One. Two.",
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": "less than"},
        "Dr. Smith met Mr. Jones at 5 p.m. today.",
        "One. Two.",
    ),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First.\n***\nSecond.",
        "First.\n***\n\n***\nLast.",
    ),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nFirst.\n***\nSecond.\n***", "Only one."),
    (
        "length_constraints:number_words",
        {"num_words": 5, "relation": "less than"},
        "Four words right here.",
        "a b c d e",
    ),
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "a b c d e", "a b c d"),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "Because"},
        'Intro.\n\n"Because, it rains.\n\nEnd.',
        "Intro.\n\nSince it rains.\n\nEnd.",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "because"},
        "Intro.\n\nBecause it rains.\n\nEnd.",
        "Intro.\n\nBecause it rains.",
    ),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", "Dear [name]."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\n\nP.S. bring cake", "Hi. Bring cake."),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.P.S call me", "Hi.\nP.S. call me"),
    ("detectable_content:postscript", {"postscript_marker": "Note:"}, "Hi.\nNOTE: late", "Hi. Late."),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "List:\n* one\n- two", "* one\n* two\n* three"),
    ("detectable_format:constrained_response", {}, "Thinking... My answer is maybe.", "My answer is: yes"),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*a* and **b**", "*a* and ** **"),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nintro\nSECTION 2\nbody",
        "SECTION 1\nintro only",
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', '{"a": 1} trailing words'),
    ("detectable_format:title", {}, "<<A Day Out>>\nWe went out.", "<< >> no real title"),
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", "Same.\n******\nSame."),
    ("combination:two_responses", {}, "******\nA\n******\nB\n******", "A\n******\n\n******\nB"),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem about tea."},
        "write a poem about tea. Steam rises...",
        "Here is a poem about tea.",
    ),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, '"Done. Any other questions?"', "Any other?"),
    ("startend:quotation", {}, '  "Wrapped in quotes."  ', '"Only opening quote.'),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "The NASA and ESA teams.",
        "The NASA team.",
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "The NASA team.",
        "The NASA and ESA teams.",
    ),
    (
        "change_case:english_capital",
        {},
        "THE WEATHER TODAY IS SUNNY AND WARM WITH A LIGHT BREEZE FROM THE SOUTH.",
        "The weather today is sunny and warm with a light breeze from the south.",
    ),
    ("change_case:english_lowercase", {}, ENGLISH_LOWER, ENGLISH_LOWER.replace("the quick", "The quick")),
    ("punctuation:no_comma", {}, "No commas here.", "Well, one comma."),
    ("first_word:first_word_answer", {"first_word": "hello"}, '"Hello, world."', "Hi, hello."),
    ("first_word:first_word_sent", {"first_word": "we"}, "We run. We jump! we sleep?", "We run. They jump."),
    ("last_word:last_word_answer", {"last_word": "done"}, "We are DONE!", "Done we are."),
    ("last_word:last_word_sent", {"last_word": "now"}, "Go now. Eat now!", "Go now. Eat later."),
    ("paragraphs:paragraphs", {}, "One para.\n\n***\n\nTwo para.", "One.\n***\nTwo.\n***\nThree."),
    ("paragraphs:paragraphs2", {}, "One para.\n\nTwo para.", "One.\n\n\n\nTwo."),
    ("count:lowercase_counting", {"N": 3}, "Only THREE lowercase words here", "four lowercase words here"),
    ("count:count_unique", {}, "Every word differs here.", "The cat saw the dog."),
    (
        "count:count_increment_word",
        {"keyword1": "sun", "keyword2": "moon"},
        "The sun and the moon, a moon.",
        "The sun and the moon.",
    ),
    (
        "count:counting_composition",
        {"n_sent": 2, "n_words": 3},
        "I like tea. You like coffee.\n* * *\nWe drink water. They drink juice.\n* * *\nAll is well. Time goes by.",
        "I like tea. You like coffee.\n* * *\nWe drink water.\n* * *\nAll is well. Time goes by.",
    ),
    ("letters:letter_counting", {"N": 10, "relation": "less than"}, "Tiny 123!", "Quite a few letters."),
    ("letters:letter_counting", {"N": 10, "relation": "at least"}, "Quite a few letters.", "Tiny 123!"),
    (
        "letters:letter_counting2",
        {"letter": "s", "let_frequency": 3, "let_relation": "at least"},
        "Sissy",
        "Sun set",
    ),
    ("punctuation:punctuation_dot", {}, "No dots at all!", "A dot."),
    ("punctuation:punctuation_exclamation", {}, "Calm words.", "Wow!"),
    ("keywords:word_once", {"keyword": "flight"}, "The Flight left.", "The flights left."),
    ("keywords:exclude_word_harder", {"keyword": "to"}, "Go toward the tower.", "Go to the tower."),
    (
        "keywords:word_count_different_numbers",
        {"keyword": "run", "frequency": 2, "relation": "at least"},
        "Run, run away.",
        "Run, runner, running.",
    ),
    ("keywords:palindrome", {}, "My mom is here.", "No such word here."),
    ("keywords:start_end", {}, "Home is where we go home", "Home is where we go home."),
    ("keywords:no_adjacent_consecutive", {}, "Dogs ate apples quietly.", "Cats don't sleep."),
    (
        "keywords:keyword_specific_position",
        {"keyword": "blue", "n": 2, "m": 3},
        "The sky. It is blue today.",
        "The sky is blue. It is green.",
    ),
    ("detectable_format:square_brackets", {}, "[I] [like] [tea].", "[I] like [tea]."),
    ("detectable_format:sentence_hyphens", {}, "I like tea.-You like coffee.", "I like tea. - You like coffee."),
    ("detectable_format:bigram_wrapping", {}, "<<I am>> <<at home>> <<now>>", "<<I am>> at home"),
    ("copy:copying_simple", {"prompt_to_repeat": "Tell me a joke."}, " Tell me a joke.\n", "Tell me a joke. Why..."),
    (
        "copy:copying_multiple",
        {"prompt_to_repeat": "Say hi.", "N": 2},
        "Say hi.\n******\nSay hi.",
        "Say hi.\n******\nSay hi.\n******\nSay hi.",
    ),
]


@pytest.mark.parametrize(
    ("instruction_id", "kwargs", "follows", "violates"),
    CASES,
    ids=[f"{case[0]}-{index}" for index, case in enumerate(CASES)],
)
def test_checker_accepts_following_and_rejects_violating_response(instruction_id, kwargs, follows, violates):
    assert is_followed(instruction_id, kwargs, follows) is True
    assert is_followed(instruction_id, kwargs, violates) is False


def test_every_registered_instruction_has_a_case():
    assert {case[0] for case in CASES} == set(INSTRUCTION_DICT)


def test_registry_covers_the_ifeval_ids():
    ifeval_ids = {
        "keywords:existence", "keywords:frequency", "keywords:forbidden_words", "keywords:letter_frequency",
        "language:response_language", "length_constraints:number_sentences", "length_constraints:number_paragraphs",
        "length_constraints:number_words", "length_constraints:nth_paragraph_first_word",
        "detectable_content:number_placeholders", "detectable_content:postscript",
        "detectable_format:number_bullet_lists", "detectable_format:constrained_response",
        "detectable_format:number_highlighted_sections", "detectable_format:multiple_sections",
        "detectable_format:json_format", "detectable_format:title", "combination:two_responses",
        "combination:repeat_prompt", "startend:end_checker", "change_case:capital_word_frequency",
        "change_case:english_capital", "change_case:english_lowercase", "punctuation:no_comma", "startend:quotation",
    }  # fmt: skip
    assert ifeval_ids <= set(INSTRUCTION_DICT)


def test_unknown_instruction_id_is_not_followed():
    assert is_followed("keywords:does_not_exist", {}, "anything") is False


def test_missing_required_kwarg_is_not_followed():
    assert is_followed("keywords:existence", {}, "anything") is False


def test_unexpected_kwarg_is_not_followed():
    assert is_followed("punctuation:no_comma", {"keywords": ["x"]}, "no comma") is False


def test_null_kwargs_are_dropped_before_calling_the_checker():
    kwargs = {"keywords": ["tea"], "num_words": None, "relation": None}
    assert is_followed("keywords:existence", kwargs, "I like tea") is True


def test_null_kwargs_object_means_no_arguments():
    assert is_followed("punctuation:no_comma", None, "no comma") is True


def test_invalid_relation_is_not_followed():
    assert is_followed("length_constraints:number_words", {"num_words": 1, "relation": "at most"}, "a") is False


def test_numeric_kwargs_given_as_strings_are_accepted():
    assert is_followed("length_constraints:number_words", {"num_words": "3", "relation": "at least"}, "a b c")


def test_keywords_are_matched_literally_not_as_regex():
    assert is_followed("keywords:existence", {"keywords": ["c++"]}, "I write C++ daily.") is True
    assert is_followed("keywords:existence", {"keywords": ["a.c"]}, "abc") is False


def test_language_of_text_without_letters_is_not_followed():
    assert is_followed("language:response_language", {"language": "en"}, "12345 !!!") is False


def test_json_format_rejects_empty_response():
    assert is_followed("detectable_format:json_format", {}, "   ") is False


def test_english_lowercase_rejects_lowercase_non_english():
    text = "le chat est sur la table et le chien dort dans le jardin avec les enfants"
    assert is_followed("change_case:english_lowercase", {}, text) is False
