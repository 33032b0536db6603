"""Write data/example.jsonl: five weather questions with the get_weather tool (run from anywhere)."""

import json
from pathlib import Path

DEVELOPER_PROMPT = (
    "You are a concise travel assistant. When the user needs current conditions for a place, call the "
    "get_weather tool with the city name instead of guessing, then answer in one or two sentences."
)

# (question, the cities it asks about: the task field ``expected_cities`` that a strict verifier checks)
QUESTIONS = [
    ("Should I pack a coat for Oslo today?", ["Oslo"]),
    ("What's the weather doing in Lisbon right now?", ["Lisbon"]),
    ("I'm biking to work in Amsterdam this morning. Any weather I should know about?", ["Amsterdam"]),
    ("is it t-shirt weather in austin", ["Austin"]),
    ("Compare the weather in Tokyo and Seoul for me.", ["Tokyo", "Seoul"]),
]

GET_WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city. Returns {city, weather_description}.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name, e.g. 'Lisbon'"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def build_rows() -> list[dict]:
    return [
        {
            "responses_create_params": {
                "input": [
                    {"role": "developer", "content": DEVELOPER_PROMPT},
                    {"role": "user", "content": question},
                ],
                "tools": [GET_WEATHER_TOOL],
                "parallel_tool_calls": False,
            },
            "expected_cities": cities,
        }
        for question, cities in QUESTIONS
    ]


def main() -> None:
    path = Path(__file__).resolve().parent / "example.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in build_rows()))


if __name__ == "__main__":
    main()
