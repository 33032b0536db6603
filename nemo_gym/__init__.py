"""NeMo Gym: serve reinforcement-learning environments to LLM trainers over HTTP.

Importing the package puts the repository root on ``sys.path`` so that server folders
(``resources_servers.*``, ``responses_api_agents.*``, ``responses_api_models.*``) are importable,
as in the reference.
"""

import os
import sys
from pathlib import Path

from nemo_gym.package_info import __version__

ROOT_DIR = Path(__file__).resolve().parent
PARENT_DIR = ROOT_DIR.parent
CACHE_DIR = PARENT_DIR / "cache"
RESULTS_DIR = PARENT_DIR / "results"

if str(PARENT_DIR) not in sys.path:
    sys.path.append(str(PARENT_DIR))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("UV_CACHE_DIR", str(CACHE_DIR / "uv"))

__all__ = ["__version__", "ROOT_DIR", "PARENT_DIR", "CACHE_DIR", "RESULTS_DIR"]
