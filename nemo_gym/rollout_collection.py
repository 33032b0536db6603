"""Public face of rollout collection (the reference's ``nemo_gym.rollout_collection``).

``ng_collect_rollouts`` validates its parameters as ``RolloutCollectionConfig`` and runs
``RolloutCollectionHelper().run_from_config(config)``. Trainers call ``run_examples`` to send rows to agents.
"""

from nemo_gym.rollouts.collection import CollectionResult
from nemo_gym.rollouts.collection_helper import (
    RolloutCollectionConfig,
    RolloutCollectionHelper,
    run_examples,
)
from nemo_gym.rollouts.input_rows import ROLLOUT_META_KEY

__all__ = [
    "ROLLOUT_META_KEY",
    "CollectionResult",
    "RolloutCollectionConfig",
    "RolloutCollectionHelper",
    "collect_rollouts",
    "run_examples",
]


def collect_rollouts() -> None:
    """The ``ng_collect_rollouts`` command (parameters from the command line, as ``RolloutCollectionConfig``);
    exits with 0 when every rollout succeeded."""
    from nemo_gym.cli.rollouts import collect_main

    collect_main()
