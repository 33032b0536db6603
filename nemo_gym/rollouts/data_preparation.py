"""``ng_prepare_data``: validate the datasets of a config's agents, compute their metrics, collate them by type.

Modes: ``example_validation`` (the ``example`` datasets every server ships) and ``train_preparation``
(``train`` and ``validation``). Invalid samples are reported with their line numbers and never copied on.
"""

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from nemo_gym.config.command_config import BaseNeMoGymCLIConfig
from nemo_gym.config.loader import ParsedConfig, resolve_subtree
from nemo_gym.config.paths import resolve_path
from nemo_gym.config.schema import DatasetConfig
from nemo_gym.errors import NeMoGymError
from nemo_gym.rollouts.dataset_metrics import (
    DatasetMetrics,
    DatasetValidatorState,
    metrics_differences,
    validate_sample,
)

logger = logging.getLogger("nemo_gym.data")

MODE_TYPES = {"train_preparation": ("train", "validation"), "example_validation": ("example",)}
# Seeded over config files and env.yaml (not the command line): data preparation needs no model credentials.
INITIAL_GLOBAL_CONFIG = {"policy_base_url": "", "policy_api_key": "", "policy_model_name": ""}
MAX_REPORTED_INVALID = 20


class DataPreparationError(NeMoGymError, ValueError):
    """A dataset is missing, conflicts with its metrics file or cannot be prepared (a ValueError, as the
    reference raises for conflicts)."""


# Keys a download backend needs in the global config (env.yaml), with the placeholder shown when one is missing.
BACKEND_CREDENTIALS = {
    "gitlab": {"mlflow_tracking_uri": "<your_gitlab_uri>", "mlflow_tracking_token": "<your_gitlab_token>"},
    "huggingface": {"hf_token": "<your_hf_token>"},
}


def validate_backend_credentials(
    backend: str, global_config_dict: Mapping[str, Any] | None = None
) -> tuple[bool, str]:
    """``(True, "")`` when every key ``backend`` needs is set (non-empty) in the global config, else ``(False,
    message)`` naming the missing keys and the env.yaml lines to add. Values are never part of the message."""
    if global_config_dict is None:
        from nemo_gym.global_config import get_global_config_dict

        global_config_dict = get_global_config_dict()
    required = BACKEND_CREDENTIALS.get(backend, {})
    missing = [key for key in required if not global_config_dict.get(key)]
    if not missing:
        return True, ""
    lines = "\n".join(f"  {key}: {required[key]}" for key in missing)
    return False, f"{backend} backend selected but missing credentials: {missing}\nAdd to env.yaml:\n{lines}"


class TrainDataProcessorConfig(BaseNeMoGymCLIConfig):
    """Validate and collate the datasets of the agents in +config_paths=[...], with metrics per dataset and type."""

    output_dirpath: str = Field(description="folder for <type>.jsonl and <type>_metrics.json")
    mode: Literal["train_preparation", "example_validation"] = Field(
        description="train_preparation (train + validation datasets) or example_validation (example datasets)"
    )
    should_download: bool = Field(default=False, description="download missing datasets (not available offline)")
    data_source: Literal["huggingface", "gitlab"] = Field(default="huggingface", description="where to download from")

    @property
    def in_scope_dataset_types(self) -> list[str]:
        """``train`` and ``validation``, or ``example``, by mode."""
        return list(MODE_TYPES[self.mode])


@dataclass
class AgentDataset:
    agent_name: str
    dataset: DatasetConfig

    @property
    def path(self) -> Path:
        return resolve_path(self.dataset.jsonl_fpath)


@dataclass
class DatasetReport:
    item: AgentDataset
    state: DatasetValidatorState = field(default_factory=DatasetValidatorState)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason), one per line
    invalid_lines: set[int] = field(default_factory=set)

    @property
    def metrics(self) -> DatasetMetrics:
        """The metrics of the valid samples (repeats included)."""
        return self.state.metrics


@dataclass
class PreparationResult:
    output_files: dict[str, Path]
    metrics_files: list[Path]
    reports: list[DatasetReport]
    num_invalid: int


def banner(title: str) -> None:
    logger.info("%s\n%s\n%s", "#" * 100, title, "#" * 100)


def select_datasets(parsed: ParsedConfig, mode: str) -> list[AgentDataset]:
    """The in-scope datasets of every agent (agents whose datasets are all out of scope are left out)."""
    types = MODE_TYPES[mode]
    agents = [instance for instance in parsed.instances if instance.server_type == "responses_api_agents"]
    with_data = [agent for agent in agents if agent.config.datasets]
    logger.info("Agents with datasets: %s", [agent.name for agent in with_data])
    logger.info("Agents without datasets: %s", [agent.name for agent in agents if not agent.config.datasets])
    selected = [
        AgentDataset(agent.name, dataset)
        for agent in with_data
        for dataset in agent.config.datasets or []
        if dataset.type in types
    ]
    logger.info("In-scope (%s) datasets: %s", "/".join(types), [f"{d.agent_name}:{d.dataset.name}" for d in selected])
    return selected


def check_present(items: list[AgentDataset], config: "TrainDataProcessorConfig", global_config: Mapping) -> None:
    mode, should_download = config.mode, config.should_download
    found = [item for item in items if item.path.is_file()]
    missing = [item for item in items if not item.path.is_file()]
    if found:
        logger.info("FOUND the following datasets at their local paths: %s", [str(item.path) for item in found])
    if not missing:
        return
    listing = "; ".join(f"{item.agent_name}:{item.dataset.name} -> {item.dataset.jsonl_fpath}" for item in missing)
    if mode == "example_validation":
        raise DataPreparationError(f"You must provide the missing example jsonl files: {listing}")
    if not should_download:
        raise DataPreparationError(
            f"Missing local datasets ({listing}). You must provide local datasets since download is disabled "
            "(+should_download=true would download them where a network is available)."
        )
    credentials_ok, credentials_message = validate_backend_credentials(config.data_source, global_config)
    if not credentials_ok:
        raise DataPreparationError(f"Cannot download datasets: {credentials_message}")
    sources = "; ".join(f"{item.dataset.name}: {_download_source(item.dataset)}" for item in missing)
    raise DataPreparationError(
        f"Cannot download datasets: downloads are not available in this installation. Fetch them yourself and "
        f"place them at their jsonl_fpath ({listing}); sources: {sources}"
    )


def _download_source(dataset: DatasetConfig) -> str:
    if dataset.huggingface_identifier is not None:
        return f"huggingface {dataset.huggingface_identifier.repo_id}"
    if dataset.gitlab_identifier is not None:
        return f"gitlab {dataset.gitlab_identifier.dataset_name} {dataset.gitlab_identifier.version}"
    return "no source configured"


def iter_repeated_lines(path: Path, num_repeats: int) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` with each line repeated ``num_repeats`` times in a row (abc -> aaabbbccc)."""
    with path.open() as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            for _ in range(num_repeats):
                yield line_number, line


def validate_dataset(item: AgentDataset) -> DatasetReport:
    """Validate every sample (with repeats); ``state.offending_example_idxs`` counts in the repeated stream."""
    report = DatasetReport(item=item)
    if item.dataset.num_repeats > 1:
        logger.info("Repeating each sample of %s %d times", item.path, item.dataset.num_repeats)
    for index, (line_number, line) in enumerate(iter_repeated_lines(item.path, item.dataset.num_repeats)):
        if line_number in report.invalid_lines:
            report.state.offending_example_idxs.append(index)
            continue
        outcome = validate_sample(line)
        if isinstance(outcome, str):
            report.state.offending_example_idxs.append(index)
            report.invalid_lines.add(line_number)
            report.invalid.append((line_number, outcome))
            continue
        report.state.add_sample(*outcome)
    if report.invalid:
        shown = "; ".join(f"line {number}: {reason}" for number, reason in report.invalid[:MAX_REPORTED_INVALID])
        more = len(report.invalid) - MAX_REPORTED_INVALID
        logger.warning(
            "%d invalid sample(s) in %s (left out of the prepared data): %s%s",
            len(report.invalid),
            item.path,
            shown,
            f"; ... and {more} more" if more > 0 else "",
        )
    return report


def dataset_metrics_content(dataset: DatasetConfig, state: DatasetValidatorState) -> dict[str, Any]:
    return {**dataset.model_dump(mode="json"), **state.dump_metrics()}


class MetricsWriter:
    """Writes metrics files, refusing to overwrite one whose content disagrees (the new one goes to ``_conflict``)."""

    def __init__(self) -> None:
        self.conflicts: list[Path] = []
        self.written: list[Path] = []

    def write(self, path: Path, content: dict[str, Any]) -> None:
        if path.exists():
            try:
                previous = json.loads(path.read_text())
            except json.JSONDecodeError:
                previous = None
            differences = metrics_differences(previous, content) if previous is not None else ["unreadable file"]
            if differences:
                conflict = path.with_name(path.stem + "_conflict.json")
                logger.error("Differences found in aggregate metrics of %s: %s", path, differences)
                conflict.write_text(json.dumps(content, indent=4) + "\n")
                self.conflicts.append(path)
                return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=4) + "\n")
        self.written.append(path)
        logger.info("Aggregate metrics for %s:\n%s", path, json.dumps(content, indent=4))


def write_prepared(report: DatasetReport, destination: Any) -> Path:
    """``<stem>_prepare.jsonl`` next to the source: valid samples (with repeats), each with its ``agent_ref``."""
    item = report.item
    prepare_path = item.path.with_name(item.path.stem + "_prepare.jsonl")
    agent_ref = {"type": "responses_api_agents", "name": item.agent_name}
    with prepare_path.open("w") as prepared:
        for line_number, line in iter_repeated_lines(item.path, item.dataset.num_repeats):
            if line_number in report.invalid_lines:
                continue
            row = json.loads(line)
            row["agent_ref"] = agent_ref
            text = json.dumps(row) + "\n"
            prepared.write(text)
            destination.write(text)
    return prepare_path


def prepare_data(config: TrainDataProcessorConfig, parsed: ParsedConfig) -> PreparationResult:
    banner("Load and validate server instance configs")
    items = select_datasets(parsed, config.mode)
    if not items:
        raise DataPreparationError(
            f"no agent of the config has a dataset of type {'/'.join(MODE_TYPES[config.mode])}; "
            "check +config_paths and the agents' datasets"
        )
    download = "**WILL**" if config.should_download else "will **NOT**"
    banner(f"Load datasets. Missing datasets {download} be downloaded.")
    credential_keys = {key for keys in BACKEND_CREDENTIALS.values() for key in keys}
    credentials = {key: resolve_subtree(parsed.config, key) for key in credential_keys if key in parsed.config}
    check_present(items, config, credentials)

    banner("Validate samples and aggregate metrics")
    writer = MetricsWriter()
    reports = [validate_dataset(item) for item in items]
    per_type: dict[str, DatasetValidatorState] = {}
    for report in reports:
        dataset = report.item.dataset
        metrics_path = report.item.path.with_name(report.item.path.stem + "_metrics.json")
        writer.write(metrics_path, dataset_metrics_content(dataset, report.state))
        per_type.setdefault(dataset.type, DatasetValidatorState()).merge(report.state)

    banner("Collate samples and aggregate metrics")
    output_dir = Path(config.output_dirpath)
    output_files: dict[str, Path] = {}
    for dataset_type in config.in_scope_dataset_types:
        if dataset_type not in per_type:
            continue
        output_dir.mkdir(parents=True, exist_ok=True)
        writer.write(output_dir / f"{dataset_type}_metrics.json", per_type[dataset_type].dump_metrics())
        collated = output_dir / f"{dataset_type}.jsonl"
        with collated.open("w") as destination:
            for report in reports:
                if report.item.dataset.type == dataset_type:
                    write_prepared(report, destination)
        output_files[dataset_type] = collated

    if writer.conflicts:
        raise DataPreparationError(
            "Found conflicting aggregate metrics that need to be corrected: "
            + ", ".join(str(path) for path in writer.conflicts)
            + ". The new metrics are in the *_conflict.json files next to them; if the change is intended, delete "
            "the listed files and rerun."
        )
    banner("Finished!")
    logger.info("View your final data!\n%s", "\n".join(f"- {kind}: {path}" for kind, path in output_files.items()))
    num_invalid = sum(len(report.invalid) for report in reports)
    return PreparationResult(output_files, writer.written, reports, num_invalid)
