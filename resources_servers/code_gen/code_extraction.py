"""Find the program in a model's answer: the text between the last two lines that contain a code fence."""

FENCE = "```"


def extract_code(model_output: str) -> str:
    """The lines between the last two lines containing a triple backtick ("" if there are fewer than two).

    This is LiveCodeBench's rule: the model is asked for a fenced block such as ``python ... ``, and the last
    block wins when it revises its answer.
    """
    lines = model_output.split("\n")
    fence_lines = [index for index, line in enumerate(lines) if FENCE in line]
    if len(fence_lines) < 2:
        return ""
    start, end = fence_lines[-2], fence_lines[-1]
    return "\n".join(lines[start + 1 : end])
