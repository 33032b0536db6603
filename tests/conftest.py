"""Shared test setup: every test starts with no cached global config."""

import pytest

from nemo_gym.global_config import set_global_config_dict


@pytest.fixture(autouse=True)
def _clear_global_config():
    set_global_config_dict(None)
    yield
    set_global_config_dict(None)
