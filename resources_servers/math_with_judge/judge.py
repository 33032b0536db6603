"""The optional LLM judge: prompts that ask whether two answers are mathematically equivalent, and the verdict.

The judge must end its reply with ``[[A=B]]`` (equivalent) or ``[[A!=B]]`` (not equivalent). It is asked twice
with the answers in both orders, so that a judge that favours one position cannot pass a wrong answer.
"""

import copy
from typing import Any

from nemo_gym.openai_utils import final_output_text

EQUAL_LABEL = "[[A=B]]"
NOT_EQUAL_LABEL = "[[A!=B]]"

JUDGE_SYSTEM_MESSAGE = f"""You are a careful grader of mathematics. You will see a math problem and two answers to \
it, written by Assistant A and Assistant B. Decide only whether the two final answers are mathematically \
equivalent: the same number, expression, set, interval or object, possibly written differently.

Ignore formatting, LaTeX markup, units written in words, the order of elements in an unordered set, and any \
working or explanation around the final answer. Do not judge which answer is correct and do not solve the \
problem yourself except as far as is needed to compare the two answers. If an answer gives several \
different final answers, or none, it is not equivalent to the other.

Explain your comparison briefly, then finish with exactly one verdict label on its own line:
{EQUAL_LABEL} if the answers are equivalent, or
{NOT_EQUAL_LABEL} if they are not."""

JUDGE_USER_TEMPLATE = """<|Problem|>
{question}

<|Start of Assistant A's Answer|>
{first_answer}
<|End of Assistant A's Answer|>

<|Start of Assistant B's Answer|>
{second_answer}
<|End of Assistant B's Answer|>"""


def build_judge_request(
    base_params: dict[str, Any], question: str, first_answer: str, second_answer: str
) -> dict[str, Any]:
    """The judge's Responses create-params: ``base_params`` with ``input`` replaced by our two messages."""
    params = copy.deepcopy(base_params)
    params["input"] = [
        {"role": "system", "content": JUDGE_SYSTEM_MESSAGE, "type": "message"},
        {
            "role": "user",
            "content": JUDGE_USER_TEMPLATE.format(
                question=question, first_answer=first_answer, second_answer=second_answer
            ),
            "type": "message",
        },
    ]
    return params


def judged_equal(response: dict[str, Any]) -> bool:
    """True only if the judge's last output item is a message whose last part is text that says ``[[A=B]]``.

    When both labels appear, the one that comes first wins; anything malformed counts as "not equal".
    """
    text = final_output_text(response)
    if text is None:
        return False
    equal_at = text.find(EQUAL_LABEL)
    if equal_at < 0:
        return False
    not_equal_at = text.find(NOT_EQUAL_LABEL)
    return not_equal_at < 0 or not_equal_at > equal_at
