"""math-verify checking, in-process and through the deadline-enforcing helper process."""

import time

import pytest

from resources_servers.math_with_judge.answer_worker import MathCheckHelper
from resources_servers.math_with_judge.math_check import check_answer

# Parsing this makes sympy try to build a number with billions of digits.
HANGING_ANSWER = "The answer is \\boxed{9^{9^{9^{9}}}}"


@pytest.mark.parametrize(
    ("expected", "generated", "reward", "extracted"),
    [
        ("8", "so the answer is \\boxed{8}", 1.0, "8"),
        ("\\frac{1}{2}", "The answer is 0.5", 1.0, "0.500000000000000"),
        ("x+1", "The answer is $1 + x$", 1.0, "x + 1"),
        ("\\frac{\\sqrt{3}}{2}", "so \\boxed{\\sin(\\pi/3)}", 1.0, "sin(pi/3)"),
        ("x + 1", "1", 0.0, "1"),
        ("1.4", "Final answer: {7 / 5}", 0.0, "5"),
        ("8", "\\boxed{9}", 0.0, "9"),
        ("32", "", 0.0, None),
    ],
)
def test_check_answer_scores_and_extracts(expected: str, generated: str, reward: float, extracted: str | None) -> None:
    assert check_answer(expected, generated) == (reward, extracted)


def test_check_answer_reports_the_prediction_that_verifies_not_the_first() -> None:
    # The plain-expression extraction finds "3" first; the LaTeX box holds the answer that matches.
    reward, extracted = check_answer("\\frac{1}{3}", "We get 3 parts, so \\boxed{\\frac{1}{3}}")
    assert reward == 1.0
    assert extracted == "1/3"


def test_helper_checks_answers_and_stays_alive_between_them() -> None:
    helper = MathCheckHelper()
    try:
        first = helper.check("8", "\\boxed{8}", timeout_s=10)
        second = helper.check("8", "\\boxed{7}", timeout_s=10)
        assert (first.reward, first.extracted_answer, first.status) == (1.0, "8", "ok")
        assert (second.reward, second.extracted_answer, second.status) == (0.0, "7", "ok")
    finally:
        helper.stop()


def test_helper_kills_a_hanging_check_at_the_deadline_and_recovers() -> None:
    helper = MathCheckHelper()
    try:
        helper.check("1", "\\boxed{1}", timeout_s=10)  # start the helper so start-up is not timed below
        started = time.monotonic()
        hung = helper.check("0.5", HANGING_ANSWER, timeout_s=1.0)
        elapsed = time.monotonic() - started
        assert (hung.reward, hung.extracted_answer, hung.status) == (0.0, None, "timeout")
        assert 1.0 <= elapsed < 3.0
        after = helper.check("0.5", "\\boxed{1/2}", timeout_s=10)
        assert (after.reward, after.status) == (1.0, "ok")
    finally:
        helper.stop()
