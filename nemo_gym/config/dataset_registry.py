"""Parameters of the dataset registry commands (upload to / download from GitLab's MLflow registry and the
Hugging Face Hub). The commands themselves are not part of NeMo Gym (see docs/compatibility.md); the parameter
models are, so configs and code written for the reference validate the same way."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from nemo_gym.config.command_config import BaseNeMoGymCLIConfig
from nemo_gym.config.schema import GitlabIdentifier, HuggingFaceIdentifier

JsonlDatasetGitlabIdentifer = GitlabIdentifier
JsonlDatasetHuggingFaceIdentifer = HuggingFaceIdentifier


class UploadJsonlDatasetGitlabConfig(BaseNeMoGymCLIConfig):
    """Upload a local jsonl dataset to the GitLab model registry."""

    dataset_name: str = Field(description="The dataset name.")
    version: str = Field(description="The version of this dataset, as x.x.x.")
    input_jsonl_fpath: str = Field(description="Path to the jsonl file to upload.")


class DownloadJsonlDatasetGitlabConfig(GitlabIdentifier, BaseNeMoGymCLIConfig):
    """Download a jsonl dataset from the GitLab model registry."""

    output_fpath: str = Field(description="Where to save the downloaded dataset.")


class DeleteJsonlDatasetGitlabConfig(BaseNeMoGymCLIConfig):
    """Delete a dataset from the GitLab model registry (asks for confirmation)."""

    dataset_name: str = Field(description="Name of the dataset to delete.")


class BaseUploadJsonlDatasetHuggingFaceConfig(BaseNeMoGymCLIConfig):
    hf_token: str = Field(description="Hugging Face API token.")
    hf_organization: str = Field(description="Organization the dataset is uploaded to.")
    hf_collection_name: str = Field(description="Collection the dataset is added to.")
    hf_collection_slug: str = Field(description="Slug at the end of the collection's URL.")
    dataset_name: str | None = Field(default=None, description="Dataset name (joined with domain and server).")
    input_jsonl_fpath: str = Field(description="Path to the local jsonl file to upload.")
    resource_config_path: str = Field(description="Resources server config file (gives the domain).")
    hf_dataset_prefix: str = Field(default="Nemotron-RL", description="Prefix of the repository name.")
    split: Literal["train", "validation", "test"] = Field(default="train", description="Dataset split.")
    create_pr: bool = Field(default=False, description="Open a pull request instead of pushing.")
    revision: str | None = Field(default=None, description="Branch to upload to.")
    commit_message: str | None = Field(default=None, description="Commit message.")
    commit_description: str | None = Field(default=None, description="Commit description.")


class UploadJsonlDatasetHuggingFaceConfig(BaseUploadJsonlDatasetHuggingFaceConfig):
    """Upload to the Hugging Face Hub, then always delete the GitLab copy (``delete_from_gitlab`` is refused)."""

    forbidden_fields: ClassVar[set[str]] = {"delete_from_gitlab"}

    @model_validator(mode="before")
    @classmethod
    def _refuse_forbidden_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            forbidden = cls.forbidden_fields.intersection(data)
            if forbidden:
                raise ValueError(f"Forbidden fields present: {sorted(forbidden)}")
        return data


class UploadJsonlDatasetHuggingFaceMaybeDeleteConfig(BaseUploadJsonlDatasetHuggingFaceConfig):
    """Upload to the Hugging Face Hub, optionally deleting the GitLab copy afterwards."""

    delete_from_gitlab: bool | None = Field(default=False, description="Delete the GitLab copy after uploading.")


class DownloadJsonlDatasetHuggingFaceConfig(HuggingFaceIdentifier, BaseNeMoGymCLIConfig):
    """Download a jsonl dataset from the Hugging Face Hub."""

    output_dirpath: str | None = Field(default=None, description="Directory for <split>.jsonl files.")
    output_fpath: str | None = Field(default=None, description="Exact output file (needs artifact_fpath or split).")
    hf_token: str | None = Field(default=None, description="Hugging Face API token.")
    split: Literal["train", "validation", "test"] | None = Field(default=None, description="Split to download.")

    @model_validator(mode="after")
    def _one_output(self) -> DownloadJsonlDatasetHuggingFaceConfig:
        if bool(self.output_dirpath) == bool(self.output_fpath):
            raise ValueError("Give exactly one of output_dirpath and output_fpath")
        if self.artifact_fpath and self.split:
            raise ValueError("Give artifact_fpath or split, not both")
        if self.output_fpath and not self.split and not self.artifact_fpath:
            raise ValueError("output_fpath needs artifact_fpath or split; use output_dirpath for all splits")
        return self


__all__ = [
    "BaseUploadJsonlDatasetHuggingFaceConfig",
    "DeleteJsonlDatasetGitlabConfig",
    "DownloadJsonlDatasetGitlabConfig",
    "DownloadJsonlDatasetHuggingFaceConfig",
    "JsonlDatasetGitlabIdentifer",
    "JsonlDatasetHuggingFaceIdentifer",
    "UploadJsonlDatasetGitlabConfig",
    "UploadJsonlDatasetHuggingFaceConfig",
    "UploadJsonlDatasetHuggingFaceMaybeDeleteConfig",
]
