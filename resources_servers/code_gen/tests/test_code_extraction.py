"""Code extraction: the text between the last two fence lines."""

from resources_servers.code_gen.code_extraction import extract_code


def test_takes_the_fenced_block() -> None:
    assert extract_code("Here:\n```python\nprint(1)\n```\nDone.") == "print(1)"


def test_last_block_wins_when_the_model_revises() -> None:
    text = "First try:\n```python\nprint(1)\n```\nBetter:\n```python\nx = 2\nprint(x)\n```"
    assert extract_code(text) == "x = 2\nprint(x)"


def test_fewer_than_two_fence_lines_give_no_code() -> None:
    assert extract_code("print(1)") == ""
    assert extract_code("```python\nprint(1)") == ""
