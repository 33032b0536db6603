"""Write data/example.jsonl: five synonym-lookup tasks over a shuffled list of ~200 term/synonym lines.

Deterministic (fixed seed), so re-running it reproduces the file. Run from anywhere.
"""

import json
import random
from pathlib import Path

SEED = 20260121

# term -> synonyms. Every synonym is unique across terms, so the needles of a question are unambiguous.
VOCABULARY: dict[str, list[str]] = {
    "Hot": ["Scorching", "Sweltering", "Torrid", "Blistering", "Sultry"],
    "Cold": ["Frigid", "Glacial", "Wintry", "Nippy", "Gelid"],
    "Fast": ["Rapid", "Swift", "Brisk", "Speedy", "Fleet"],
    "Slow": ["Sluggish", "Leisurely", "Plodding", "Unhurried", "Dawdling"],
    "Happy": ["Cheerful", "Joyous", "Elated", "Jubilant", "Content"],
    "Sad": ["Gloomy", "Sorrowful", "Dejected", "Melancholy", "Downcast"],
    "Big": ["Huge", "Enormous", "Massive", "Vast", "Colossal"],
    "Small": ["Tiny", "Minute", "Petite", "Diminutive", "Compact"],
    "Loud": ["Noisy", "Booming", "Deafening", "Thunderous", "Blaring"],
    "Quiet": ["Silent", "Hushed", "Muted", "Tranquil", "Soundless"],
    "Bright": ["Radiant", "Luminous", "Dazzling", "Gleaming", "Vivid"],
    "Dark": ["Dim", "Murky", "Shadowy", "Unlit", "Inky"],
    "Old": ["Ancient", "Aged", "Elderly", "Antique", "Vintage"],
    "New": ["Fresh", "Novel", "Modern", "Recent", "Unused"],
    "Strong": ["Sturdy", "Robust", "Mighty", "Brawny", "Hardy"],
    "Weak": ["Feeble", "Frail", "Flimsy", "Fragile", "Puny"],
    "Rich": ["Wealthy", "Affluent", "Prosperous", "Opulent", "Moneyed"],
    "Poor": ["Needy", "Impoverished", "Destitute", "Penniless", "Broke"],
    "Smart": ["Clever", "Brilliant", "Astute", "Shrewd", "Sharp"],
    "Easy": ["Simple", "Effortless", "Painless", "Straightforward", "Elementary"],
    "Hard": ["Difficult", "Arduous", "Strenuous", "Grueling", "Demanding"],
    "Wet": ["Damp", "Soggy", "Moist", "Drenched", "Sodden"],
    "Dry": ["Arid", "Parched", "Desiccated", "Thirsty", "Waterless"],
    "Angry": ["Furious", "Irate", "Livid", "Enraged", "Incensed"],
    "Calm": ["Serene", "Placid", "Peaceful", "Composed", "Unruffled"],
    "Brave": ["Fearless", "Valiant", "Bold", "Daring", "Intrepid"],
    "Scared": ["Afraid", "Terrified", "Fearful", "Frightened", "Petrified"],
    "Clean": ["Spotless", "Pristine", "Immaculate", "Tidy", "Sanitary"],
    "Dirty": ["Filthy", "Grimy", "Soiled", "Muddy", "Squalid"],
    "Tired": ["Weary", "Exhausted", "Fatigued", "Drained", "Sleepy"],
    "Funny": ["Hilarious", "Amusing", "Comical", "Witty", "Droll"],
    "Strange": ["Odd", "Peculiar", "Bizarre", "Curious", "Weird"],
    "Beautiful": ["Lovely", "Gorgeous", "Stunning", "Exquisite", "Elegant"],
    "Ugly": ["Hideous", "Unsightly", "Grotesque", "Homely", "Unattractive"],
    "Cheap": ["Inexpensive", "Affordable", "Economical", "Budget", "Bargain"],
    "Expensive": ["Costly", "Pricey", "Lavish", "Exorbitant", "Dear"],
    "Full": ["Packed", "Crammed", "Brimming", "Stuffed", "Replete"],
    "Empty": ["Vacant", "Hollow", "Bare", "Barren", "Void"],
    "True": ["Accurate", "Correct", "Factual", "Genuine", "Valid"],
    "False": ["Untrue", "Incorrect", "Bogus", "Spurious", "Erroneous"],
}

# (term, question about that term without naming it)
QUESTIONS = [
    ("Hot", "Why do some desert cities reach such punishing daytime temperatures in summer?"),
    ("Tired", "What habits help someone who feels worn out and low on energy every afternoon?"),
    ("Cheap", "How can a student furnish an apartment while spending as little money as possible?"),
    ("Quiet", "What makes a library or a forest at night feel so free of noise?"),
    ("Brave", "What pushes firefighters to run toward danger when everyone else runs away?"),
]

INSTRUCTIONS = """# Instructions
You are given a list of terms and their synonyms. The user's question is about exactly one of the terms.
1. Decide which term the question is about.
2. For every synonym of that term, call `get_synonym_value` to get the synonym's value. Do not look up the term itself.
3. Call `extract_synonym_values` once with all the values, in the order the synonyms appear in the list below.
Submitting values in any other order, or values of other terms, counts as a failure."""

EXAMPLE = """# Example
If the question were about feeling very cold and the list contained, in this order, "The term 'Cold' has a synonym
'Frigid'" and "The term 'Cold' has a synonym 'Nippy'", you would call get_synonym_value for 'Frigid' and then for
'Nippy', and finally extract_synonym_values with [<value of Frigid>, <value of Nippy>]."""

TOOLS = [
    {
        "type": "function",
        "name": "get_synonym_value",
        "description": 'Get the value of a synonym. Returns a JSON object {"synonym_value": <integer>}.',
        "parameters": {
            "type": "object",
            "properties": {"synonym": {"type": "string", "description": "The synonym, spelled as in the list"}},
            "required": ["synonym"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "extract_synonym_values",
        "description": 'Submit the synonym values in list order. Returns a JSON object {"success": true}.',
        "parameters": {
            "type": "object",
            "properties": {
                "synonym_values": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "The values, in the order their synonyms appear in the list",
                }
            },
            "required": ["synonym_values"],
            "additionalProperties": False,
        },
        "strict": True,
    },
]


def synonym_value(synonym: str) -> int:
    return sum(ord(character) for character in synonym)


def build_rows() -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    for index, (term, question) in enumerate(QUESTIONS):
        lines = [(name, synonym) for name, synonyms in VOCABULARY.items() for synonym in synonyms]
        rng.shuffle(lines)
        listing = "\n".join(f"The term '{name}' has a synonym '{synonym}'." for name, synonym in lines)
        expected = [synonym for name, synonym in lines if name == term]
        rows.append(
            {
                "id": index,
                "responses_create_params": {
                    "input": [
                        {
                            "role": "system",
                            "content": f"{INSTRUCTIONS}\n\n# Available synonyms\n{listing}\n\n{EXAMPLE}",
                        },
                        {"role": "user", "content": question},
                    ],
                    "tools": TOOLS,
                    "parallel_tool_calls": False,
                },
                "expected_synonyms": expected,
                "expected_synonym_values": [synonym_value(synonym) for synonym in expected],
                "minefield_label": term,
                "minefield_label_value": synonym_value(term),
            }
        )
    return rows


def main() -> None:
    path = Path(__file__).resolve().parent / "example.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in build_rows()))


if __name__ == "__main__":
    main()
