"""``multineedle``: the historical name of ``example_multi_step``, kept so that old configs (and the deployment
guide's ``resources_servers/multineedle/configs/multineedle.yaml``) still start.

Server folders never import each other, so this entrypoint runs that folder's ``app.py`` by path, as if
``python resources_servers/example_multi_step/app.py`` had been started. The implementation lives only there.
"""

import runpy
from pathlib import Path

IMPLEMENTATION = Path(__file__).resolve().parents[1] / "example_multi_step" / "app.py"

if __name__ == "__main__":
    runpy.run_path(str(IMPLEMENTATION), run_name="__main__")
