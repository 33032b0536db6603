"""``library_judge_math``: the historical name of ``math_with_judge``, kept so that old configs still start.

Server folders never import each other, so this entrypoint does not import ``math_with_judge``: it runs that
folder's ``app.py`` by path, as if ``python resources_servers/math_with_judge/app.py`` had been started. The
implementation, and its classes ``LibraryJudgeMathResourcesServer(Config)``, live only there.
"""

import runpy
from pathlib import Path

IMPLEMENTATION = Path(__file__).resolve().parents[1] / "math_with_judge" / "app.py"

if __name__ == "__main__":
    runpy.run_path(str(IMPLEMENTATION), run_name="__main__")
