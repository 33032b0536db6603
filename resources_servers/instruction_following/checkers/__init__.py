"""IFEval-style instruction checkers, written for this project (no NLTK or spaCy download).

Importing the package fills ``INSTRUCTION_DICT`` with every supported instruction id.
"""

from resources_servers.instruction_following.checkers import extended, ifeval  # noqa: F401 - registers checkers
from resources_servers.instruction_following.checkers.registry import (
    INSTRUCTION_DICT,
    Checker,
    UnknownInstructionError,
    get_checker,
)

__all__ = ["INSTRUCTION_DICT", "Checker", "UnknownInstructionError", "get_checker"]
