"""Public face of ``ng_prepare_data`` (the reference's ``nemo_gym.train_data_utils``).

The accumulators and per-sample metrics are ``nemo_gym/rollouts/dataset_metrics.py``; the steps (select the
agents' in-scope datasets, check they are present, validate samples and write ``<stem>_metrics.json``, collate
``<type>.jsonl`` with ``agent_ref`` and ``<type>_metrics.json``) are ``nemo_gym/rollouts/data_preparation.py``.
``TrainDataProcessor().run(global_config_dict)`` runs them on an already merged config, ``prepare_data()`` on the
command line (as ``ng_prepare_data``, without needing model credentials).
"""

from typing import Any

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel

from nemo_gym.config.loader import ParsedConfig, parse_config, resolve_subtree
from nemo_gym.rollouts.data_preparation import (
    INITIAL_GLOBAL_CONFIG,
    TrainDataProcessorConfig,
    validate_backend_credentials,
)
from nemo_gym.rollouts.data_preparation import prepare_data as prepare_parsed_data
from nemo_gym.rollouts.dataset_metrics import (
    Accumulator,
    AvgMinMax,
    DatasetMetrics,
    DatasetValidatorState,
    StringMetrics,
    aggregate_other_metrics,
    compute_sample_metrics,
    postprocess_other_metrics,
)

__all__ = [
    "Accumulator",
    "AvgMinMax",
    "DatasetMetrics",
    "DatasetValidatorState",
    "StringMetrics",
    "TrainDataProcessor",
    "TrainDataProcessorConfig",
    "aggregate_other_metrics",
    "compute_sample_metrics",
    "postprocess_other_metrics",
    "prepare_data",
    "validate_backend_credentials",
]


class TrainDataProcessor(BaseModel):
    """Runs data preparation on a global config dict that names the output folder and mode
    (``output_dirpath``, ``mode``, optional ``should_download`` and ``data_source``).

    Raises ``nemo_gym.rollouts.data_preparation.DataPreparationError`` (a ValueError) for missing datasets and
    conflicting metrics files, and a pydantic ``ValidationError`` for bad parameters.
    """

    def run(self, global_config_dict: DictConfig | dict[str, Any]) -> None:
        plain = (
            OmegaConf.to_container(global_config_dict, resolve=False)
            if isinstance(global_config_dict, DictConfig)
            else dict(global_config_dict)
        )
        # Validates the server instances and their references the same way ng_prepare_data does.
        self._run_parsed(parse_config(plain, skip_dotenv=True))

    def _run_parsed(self, parsed: ParsedConfig) -> None:
        names = TrainDataProcessorConfig.model_fields
        parameters = {key: resolve_subtree(parsed.config, key) for key in parsed.config if key in names}
        prepare_parsed_data(TrainDataProcessorConfig.model_validate(parameters), parsed)


def prepare_data() -> None:
    """``ng_prepare_data`` from ``sys.argv``: the policy model's URL, key and name are seeded empty (over config
    files and env.yaml, under the command line), so preparing data never needs model credentials."""
    from nemo_gym.global_config import parse_global_config

    TrainDataProcessor()._run_parsed(parse_global_config(initial=INITIAL_GLOBAL_CONFIG))
