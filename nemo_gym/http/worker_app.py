"""The ASGI app of one uvicorn worker when a server runs with ``num_workers > 1``.

uvicorn's workers import an app by name. Rather than asking every server module to build its app at import
time, the main process names its server class in ``NEMO_GYM_WORKER_SERVER`` (``<file path>::<class name>``);
each worker loads that file under a private module name (so its ``__main__`` block does not run) and builds the
app with the same config.
"""

import importlib.util
import sys

from nemo_gym.bootstrap.environment import worker_server_spec


def _load_app():
    path, _, class_name = worker_server_spec().partition("::")
    module_name = f"_nemo_gym_worker_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, class_name).run_webserver()


app = _load_app()
