"""Write data/example.jsonl: five counter tasks (a start value, two increments, then a read). Run from anywhere."""

import json
from pathlib import Path

# (initial_count, first increment, second increment)
TASKS = [(2, 5, 1), (10, 4, 7), (0, 12, 3), (25, 9, 6), (7, 8, 20)]

TOOLS = [
    {
        "type": "function",
        "name": "increment_counter",
        "description": 'Add a number to the counter. Returns {"success": true}.',
        "parameters": {
            "type": "object",
            "properties": {"count": {"type": "integer", "description": "How much to add"}},
            "required": ["count"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "get_counter_value",
        "description": 'Read the counter. Returns {"count": <integer>}.',
        "parameters": {"type": "object", "properties": {}, "required": [], "additionalProperties": False},
        "strict": True,
    },
]


def build_rows() -> list[dict]:
    rows = []
    for initial, first, second in TASKS:
        prompt = (
            f"Increase the counter by {first}, then increase it by {second}, and tell me the value it ends up at. "
            "Use the tools, one call at a time."
        )
        rows.append(
            {
                "responses_create_params": {
                    "input": [{"role": "user", "content": prompt}],
                    "tools": TOOLS,
                    "parallel_tool_calls": False,
                },
                "initial_count": initial,
                "expected_count": initial + first + second,
            }
        )
    return rows


def main() -> None:
    path = Path(__file__).resolve().parent / "example.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in build_rows()))


if __name__ == "__main__":
    main()
