"""One secret mask for dumps, the head server, /server_instances and logs."""

import logging

from nemo_gym.config.secrets import MASK, SecretScrubber, collect_secret_values, is_secret_key, mask_secrets


def test_secret_key_names() -> None:
    for key in (
        "policy_api_key",
        "openai_api_key",
        "hf_token",
        "mlflow_tracking_token",
        "client_secret",
        "db_password",
        "apiKey",
        "key",
        "SECRET_VALUE",
        "authToken",
    ):
        assert is_secret_key(key), key
    for key in ("max_output_tokens", "prompt_token_ids", "monkey", "keyboard_layout", "tokens", "name"):
        assert not is_secret_key(key), key


def test_masking_reaches_any_depth_including_lists() -> None:
    config = {
        "policy_api_key": "sk-1",
        "max_output_tokens": 128,
        "servers": [{"name": "a", "api_key": "sk-2"}, {"nested": [{"hf_token": "hf-3"}]}],
        "model": {"responses_api_models": {"openai_model": {"openai_api_key": "sk-4", "openai_model": "gpt"}}},
    }
    masked = mask_secrets(config)
    assert masked["policy_api_key"] == MASK
    assert masked["max_output_tokens"] == 128
    assert masked["servers"][0] == {"name": "a", "api_key": MASK}
    assert masked["servers"][1]["nested"][0]["hf_token"] == MASK
    assert masked["model"]["responses_api_models"]["openai_model"] == {"openai_api_key": MASK, "openai_model": "gpt"}
    assert config["policy_api_key"] == "sk-1"  # the original is untouched


def test_scrubber_masks_secret_values_in_free_text() -> None:
    scrubber = SecretScrubber()
    scrubber.add(collect_secret_values({"x": {"api_key": "sk-verysecret"}, "short_key": "abc"}))
    assert scrubber.scrub("calling http://host?key=sk-verysecret now") == f"calling http://host?key={MASK} now"
    assert scrubber.scrub("abc stays") == "abc stays"


def test_log_records_are_scrubbed(caplog) -> None:
    from nemo_gym.config import secrets

    secrets.scrubber.add(["sk-log-secret-1"])
    logger = logging.getLogger("test.secrets")
    handler = logging.StreamHandler()
    handler.addFilter(secrets.SecretScrubbingFilter())
    record = logger.makeRecord("test", logging.INFO, __file__, 1, "key is %s", ("sk-log-secret-1",), None)
    handler.filter(record)
    assert record.getMessage() == f"key is {MASK}"


def test_secret_values_are_masked_wherever_they_are_copied() -> None:
    config = {
        "policy_api_key": "sk-canary-0123456789",
        "z": "sk-canary-0123456789",  # an ordinary key holding ${policy_api_key}
        "note": "prefix sk-canary-0123456789 suffix",
        "max_output_tokens": 128,
    }
    masked = mask_secrets(config)
    assert masked == {"policy_api_key": MASK, "z": MASK, "note": f"prefix {MASK} suffix", "max_output_tokens": 128}


def test_authorization_headers_are_secret_keys_and_their_token_is_a_secret_value() -> None:
    assert is_secret_key("Authorization") and is_secret_key("Proxy-Authorization")
    assert is_secret_key("api-key") and is_secret_key("X-Api-Key")
    config = {"default_headers": {"Authorization": "Bearer tok-canary-987654"}, "log": "sent tok-canary-987654"}
    masked = mask_secrets(config)
    assert masked["default_headers"]["Authorization"] == MASK
    assert masked["log"] == f"sent {MASK}"


def test_url_user_info_is_masked_and_its_password_learnt() -> None:
    config = {"base_url": "http://user:pw-canary-55555@host:8000/v1", "elsewhere": "pw-canary-55555"}
    masked = mask_secrets(config)
    assert masked["base_url"] == f"http://{MASK}@host:8000/v1"
    assert masked["elsewhere"] == MASK
    assert "pw-canary-55555" in collect_secret_values(config)
    scrubber = SecretScrubber()
    assert scrubber.scrub("GET https://tok@example.com/x failed") == f"GET https://{MASK}@example.com/x failed"
    assert scrubber.scrub("mail me at someone@example.com") == "mail me at someone@example.com"
