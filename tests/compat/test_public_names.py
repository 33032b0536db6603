"""Every public name of the reference's core modules that NeMo Gym provides, with the kind and the fields,
signatures and values the reference documents (docs/compatibility.md lists what is left out and why)."""

import importlib
import inspect
import typing

import pytest
import typing_extensions
from pydantic import BaseModel, ValidationError

# Module -> names, as the reference's public-api list gives them (minus the modules left out).
PUBLIC_NAMES = {
    "nemo_gym": "ROOT_DIR PARENT_DIR CACHE_DIR RESULTS_DIR",
    "nemo_gym.base_resources_server": "BaseResourcesServerConfig BaseResourcesServer BaseRunRequest "
    "BaseVerifyRequest BaseVerifyResponse BaseSeedSessionRequest BaseSeedSessionResponse SimpleResourcesServer",
    "nemo_gym.base_responses_api_agent": "BaseResponsesAPIAgentConfig BaseResponsesAPIAgent SimpleResponsesAPIAgent",
    "nemo_gym.base_responses_api_model": "BaseResponsesAPIModelConfig BaseResponsesAPIModel SimpleResponsesAPIModel",
    "nemo_gym.config_types": "BaseNeMoGymCLIConfig ModelServerRef ResourcesServerRef AgentServerRef ServerRef "
    "ServerRefTypeAdapter is_server_ref UploadJsonlDatasetGitlabConfig JsonlDatasetGitlabIdentifer "
    "DownloadJsonlDatasetGitlabConfig DeleteJsonlDatasetGitlabConfig JsonlDatasetHuggingFaceIdentifer "
    "BaseUploadJsonlDatasetHuggingFaceConfig UploadJsonlDatasetHuggingFaceConfig "
    "UploadJsonlDatasetHuggingFaceMaybeDeleteConfig DownloadJsonlDatasetHuggingFaceConfig DatasetType "
    "DatasetConfig Domain BaseServerConfig BaseRunServerConfig BaseRunServerInstanceConfig BaseRunServerTypeConfig "
    "BaseServerTypeConfig ResponsesAPIModelServerTypeConfig ResourcesServerTypeConfig "
    "ResponsesAPIAgentServerTypeConfig ServerTypeConfig BaseServerInstanceConfig "
    "ResponsesAPIModelServerInstanceConfig ResourcesServerInstanceConfig ResponsesAPIAgentServerInstanceConfig "
    "ServerInstanceConfig ServerInstanceConfigTypeAdapter maybe_get_server_instance_config is_almost_server "
    "AGENT_REF_KEY",
    "nemo_gym.global_config": "NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME "
    "CONFIG_PATHS_KEY_NAME ENTRYPOINT_KEY_NAME DEFAULT_HOST_KEY_NAME HEAD_SERVER_KEY_NAME DISALLOWED_PORTS_KEY_NAME "
    "HEAD_SERVER_DEPS_KEY_NAME PYTHON_VERSION_KEY_NAME PIP_INSTALL_VERBOSE_KEY_NAME USE_ABSOLUTE_IP "
    "UV_PIP_SET_PYTHON_KEY_NAME HF_TOKEN_KEY_NAME RAY_HEAD_NODE_ADDRESS_KEY_NAME NEMO_GYM_RESERVED_TOP_LEVEL_KEYS "
    "POLICY_BASE_URL_KEY_NAME POLICY_API_KEY_KEY_NAME POLICY_MODEL_NAME_KEY_NAME DEFAULT_HEAD_SERVER_PORT "
    "get_global_config_dict set_global_config_dict get_first_server_config_dict find_open_port "
    "format_almost_server_warning",
    "nemo_gym.openai_utils": "TokenIDLogProbMixin TokenIDLogProbTypedDictMixin NeMoGymSummary "
    "NeMoGymResponseReasoningItem NeMoGymResponseOutputText NeMoGymResponseOutputRefusal NeMoGymContent "
    "NeMoGymResponseOutputMessage NeMoGymEasyInputMessage NeMoGymMessage NeMoGymFunctionCallOutput "
    "NeMoGymResponseFunctionToolCall NeMoGymResponseInputText NeMoGymEasyInputMessageForTraining "
    "NeMoGymMessageForTraining NeMoGymResponseOutputMessageForTraining NeMoGymResponseFunctionToolCallForTraining "
    "NeMoGymResponseReasoningItemForTraining RESPONSES_TO_TRAIN NeMoGymResponseInputItem NeMoGymResponseInput "
    "NeMoGymResponseCreateParamsNonStreaming NeMoGymResponseOutputItem NeMoGymResponse NeMoGymFunction "
    "NeMoGymChatCompletionMessageToolCall NeMoGymChatCompletionMessage NeMoGymChatCompletionMessageForTraining "
    "NeMoGymChoice NeMoGymChatCompletion NeMoGymFunctionDefinition NeMoGymChatCompletionToolParam "
    "NeMoGymChatCompletionContentPartTextParam NeMoGymChatCompletionUserMessageParam "
    "NeMoGymChatCompletionSystemMessageParam NeMoGymChatCompletionDeveloperMessageParam "
    "NeMoGymChatCompletionMessageToolCallFunctionParam NeMoGymChatCompletionMessageToolCallParam "
    "NeMoGymChatCompletionAssistantMessageParam NeMoGymChatCompletionAssistantMessageForTrainingParam "
    "NeMoGymChatCompletionToolMessageParam NeMoGymFunctionToolParam NeMoGymChatCompletionMessageParam "
    "NeMoGymChatCompletionCreateParamsNonStreaming RATE_LIMIT_ERROR_CODES RETRY_ERROR_CODES NeMoGymAsyncOpenAI",
    "nemo_gym.package_info": "MAJOR MINOR PATCH PRE_RELEASE VERSION",
    "nemo_gym.rollout_collection": "RolloutCollectionConfig RolloutCollectionHelper collect_rollouts",
    "nemo_gym.server_utils": "GlobalAIOHTTPAsyncClientConfig get_global_aiohttp_client set_global_aiohttp_client "
    "is_global_aiohttp_client_setup global_aiohttp_client_exit MAX_NUM_TRIES request raise_for_status "
    "get_response_json DEFAULT_HEAD_SERVER_PORT ServerStatus ServerClient SESSION_ID_KEY BaseServer "
    "ProfilingMiddlewareInputConfig ProfilingMiddlewareConfig UvicornLoggingConfig initialize_ray "
    "IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME is_nemo_gym_fastapi_worker set_is_nemo_gym_fastapi_worker SimpleServer "
    "HeadServer ServerInstanceDisplayConfig",
    "nemo_gym.server_status": "StatusCommand",
    "nemo_gym.train_data_utils": "TrainDataProcessorConfig Accumulator AvgMinMax StringMetrics DatasetMetrics "
    "aggregate_other_metrics postprocess_other_metrics compute_sample_metrics DatasetValidatorState "
    "TrainDataProcessor validate_backend_credentials prepare_data",
}


@pytest.mark.parametrize(
    ("module_name", "name"), [(module, name) for module, names in PUBLIC_NAMES.items() for name in names.split()]
)
def test_public_name_imports_from_its_reference_module(module_name, name):
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"{module_name}.{name} is missing"


def _fields(model: type[BaseModel]) -> dict[str, object]:
    return {
        name: (None if field.is_required() else field.get_default(call_default_factory=True))
        for name, field in model.model_fields.items()
    }


def test_responses_output_part_models_have_the_reference_fields_and_defaults():
    from nemo_gym import openai_utils as o

    assert _fields(o.NeMoGymResponseOutputText) == {
        "annotations": None,
        "text": None,
        "type": "output_text",
        "logprobs": None,
    }
    assert _fields(o.NeMoGymResponseOutputRefusal) == {"refusal": None, "type": "refusal"}
    assert set(typing.get_args(o.NeMoGymContent)) == {o.NeMoGymResponseOutputText, o.NeMoGymResponseOutputRefusal}
    assert o.NeMoGymSummary(text="t", type="summary_text").model_dump() == {"text": "t", "type": "summary_text"}


def test_responses_items_have_the_reference_fields_and_defaults():
    from nemo_gym import openai_utils as o

    assert _fields(o.NeMoGymResponseOutputMessage) == {
        "id": None,
        "content": None,
        "role": "assistant",
        "status": "completed",
        "type": "message",
    }
    assert _fields(o.NeMoGymEasyInputMessage) == {"content": None, "role": None, "type": "message"}
    assert _fields(o.NeMoGymMessage) == {"content": None, "role": None, "status": "completed", "type": "message"}
    assert _fields(o.NeMoGymResponseFunctionToolCall) == {
        "arguments": None,
        "call_id": None,
        "name": None,
        "type": "function_call",
        "id": None,
        "status": None,
    }
    assert _fields(o.NeMoGymFunctionCallOutput) == {
        "call_id": None,
        "output": None,
        "type": "function_call_output",
        "id": None,
        "status": None,
    }
    # No `status` on reasoning items: OpenAI rejects it when the item is sent back.
    assert _fields(o.NeMoGymResponseReasoningItem) == {
        "id": None,
        "summary": None,
        "type": "reasoning",
        "encrypted_content": None,
    }
    tokens = {"prompt_token_ids", "generation_token_ids", "generation_log_probs"}
    assert set(o.TokenIDLogProbMixin.model_fields) == tokens
    assert set(typing.get_type_hints(o.TokenIDLogProbTypedDictMixin)) == tokens
    for plain, training in o.RESPONSES_TO_TRAIN.items():
        assert issubclass(training, plain) and issubclass(training, o.TokenIDLogProbMixin)
        assert set(training.model_fields) == set(plain.model_fields) | tokens


def test_input_text_and_chat_params_are_typed_dicts():
    from nemo_gym import openai_utils as o

    assert o.NeMoGymResponseInputText(text="hi", type="input_text") == {"text": "hi", "type": "input_text"}
    for name in (
        "ContentPartTextParam",
        "UserMessageParam",
        "SystemMessageParam",
        "DeveloperMessageParam",
        "MessageToolCallFunctionParam",
        "MessageToolCallParam",
        "AssistantMessageParam",
        "AssistantMessageForTrainingParam",
        "ToolMessageParam",
        "ToolParam",
    ):
        cls = getattr(o, f"NeMoGymChatCompletion{name}")
        assert typing_extensions.is_typeddict(cls), name
    assert typing_extensions.is_typeddict(o.NeMoGymFunctionDefinition)
    assert set(typing.get_type_hints(o.NeMoGymChatCompletionToolMessageParam)) == {"content", "role", "tool_call_id"}
    assert {"prompt_token_ids", "tool_calls", "content"} <= set(
        typing.get_type_hints(o.NeMoGymChatCompletionAssistantMessageForTrainingParam)
    )


def test_create_params_policies():
    from nemo_gym import openai_utils as o

    assert o.NeMoGymResponseCreateParamsNonStreaming.model_config["extra"] == "forbid"
    assert o.NeMoGymChatCompletionCreateParamsNonStreaming.model_config["extra"] == "ignore"
    defaults = _fields(o.NeMoGymResponseCreateParamsNonStreaming)
    assert defaults["input"] is None and defaults["parallel_tool_calls"] is True
    assert defaults["tool_choice"] == "auto" and defaults["tools"] == []
    chat = _fields(o.NeMoGymChatCompletionCreateParamsNonStreaming)
    assert chat["parallel_tool_calls"] is True and "functions" not in chat and "function_call" not in chat


def test_chat_reply_types():
    from nemo_gym import openai_utils as o

    assert _fields(o.NeMoGymFunction) == {"arguments": None, "name": None}
    call = o.NeMoGymChatCompletionMessageToolCall(id="c", type="function", function={"name": "f", "arguments": "{}"})
    assert isinstance(call.function, o.NeMoGymFunction)
    message = o.NeMoGymChatCompletionMessage(role="assistant", content=None, tool_calls=[call])
    assert message.tool_calls[0].function.name == "f"


def test_retry_codes_and_the_client():
    from nemo_gym import openai_utils as o
    from nemo_gym.http.retry_policy import RETRYABLE_STATUSES

    assert o.RATE_LIMIT_ERROR_CODES == [429, 502, 503, 504, 520]
    assert o.RETRY_ERROR_CODES == [429, 502, 503, 504, 520, 500]
    assert set(o.RETRY_ERROR_CODES) == RETRYABLE_STATUSES
    client = o.NeMoGymAsyncOpenAI(base_url="http://127.0.0.1:1/v1", api_key="k")
    for method in ("create_chat_completion", "create_response", "create_tokenize", "create_models"):
        assert inspect.iscoroutinefunction(getattr(client, method))


def test_global_config_constants_have_the_reference_values():
    from nemo_gym import global_config as g

    assert g.NEMO_GYM_RESERVED_TOP_LEVEL_KEYS == [
        "config_paths",
        "entrypoint",
        "default_host",
        "head_server",
        "disallowed_ports",
        "head_server_deps",
        "python_version",
        "pip_install_verbose",
        "use_absolute_ip",
        "uv_pip_set_python",
        "hf_token",
        "ray_head_node_address",
    ]
    assert (g.POLICY_BASE_URL_KEY_NAME, g.POLICY_API_KEY_KEY_NAME, g.POLICY_MODEL_NAME_KEY_NAME) == (
        "policy_base_url",
        "policy_api_key",
        "policy_model_name",
    )
    assert g.DEFAULT_HEAD_SERVER_PORT == 11000
    assert g.NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME == "NEMO_GYM_CONFIG_DICT"
    assert g.get_first_server_config_dict({"a": {"b": {"c": {"x": 1}, "d": None}, "e": None}}, "a") == {"x": 1}


def test_server_refs_need_their_type():
    from nemo_gym.config_types import ModelServerRef, is_server_ref

    assert is_server_ref({"type": "responses_api_models", "name": "policy_model"}) == ModelServerRef(
        name="policy_model"
    )
    assert is_server_ref({"name": "policy_model"}) is None
    assert is_server_ref({"type": "nope", "name": "x"}) is None


def test_server_entry_models_validate_as_the_reference_describes():
    from nemo_gym.config_types import (
        ResourcesServerInstanceConfig,
        ResponsesAPIAgentServerInstanceConfig,
        is_almost_server,
        maybe_get_server_instance_config,
    )
    from nemo_gym.global_config import format_almost_server_warning

    agent, error = maybe_get_server_instance_config(
        "my_agent", {"responses_api_agents": {"simple_agent": {"entrypoint": "app.py", "domain": "math", "x": 1}}}
    )
    assert error is None and isinstance(agent, ResponsesAPIAgentServerInstanceConfig)
    inner = agent.model_dump()["responses_api_agents"]["simple_agent"]
    assert "domain" not in inner and inner["x"] == 1  # domain removed for non-resources servers; extras kept
    assert agent.get_server_ref().type == "responses_api_agents" and agent.get_server_ref().name == "my_agent"

    resources, _ = maybe_get_server_instance_config(
        "env", {"resources_servers": {"mcqa": {"entrypoint": "app.py", "domain": "knowledge"}}}
    )
    assert isinstance(resources, ResourcesServerInstanceConfig)

    broken = {"resources_servers": {"mcqa": {"entrypoint": "app.py"}}}
    missing, error = maybe_get_server_instance_config("env", broken)
    assert missing is None and isinstance(error, ValidationError) and is_almost_server(broken)
    warning = format_almost_server_warning("env", error)
    assert "Almost-Server Detected: 'env'" in warning and "domain" in warning
    assert "responses_api_models" not in warning  # other server types' noise is left out
    assert maybe_get_server_instance_config("scalar", 3) == (None, None) and not is_almost_server({"a": {}})


def test_dataset_registry_configs():
    from nemo_gym.config_types import DownloadJsonlDatasetHuggingFaceConfig, UploadJsonlDatasetHuggingFaceConfig

    base = {
        "hf_token": "t",
        "hf_organization": "o",
        "hf_collection_name": "c",
        "hf_collection_slug": "s",
        "input_jsonl_fpath": "a.jsonl",
        "resource_config_path": "r.yaml",
    }
    assert UploadJsonlDatasetHuggingFaceConfig(**base).hf_dataset_prefix == "Nemotron-RL"
    with pytest.raises(ValidationError, match="Forbidden"):
        UploadJsonlDatasetHuggingFaceConfig(**base, delete_from_gitlab=True)
    with pytest.raises(ValidationError):
        DownloadJsonlDatasetHuggingFaceConfig(repo_id="r", output_dirpath="d", output_fpath="f")
    assert DownloadJsonlDatasetHuggingFaceConfig(repo_id="r", output_dirpath="d").split is None


def test_server_utils_settings_and_version():
    from nemo_gym import package_info, server_utils

    assert server_utils.GlobalAIOHTTPAsyncClientConfig().global_aiohttp_connector_limit == 100 * 1024
    assert server_utils.GlobalAIOHTTPAsyncClientConfig().global_aiohttp_connector_limit_per_host == 1024
    assert server_utils.UvicornLoggingConfig().uvicorn_logging_show_200_ok is False
    assert server_utils.MAX_NUM_TRIES == 3
    assert server_utils.IS_NEMO_GYM_FASTAPI_WORKER_KEY_NAME == "IS_NEMO_GYM_FASTAPI_WORKER"
    assert set(server_utils.ServerInstanceDisplayConfig.model_fields) == {
        "config_path",
        "dir_path",
        "entrypoint",
        "host",
        "name",
        "pid",
        "port",
        "process_name",
        "server_type",
        "start_time",
        "status",
        "uptime_seconds",
        "url",
    }
    assert set(typing.get_args(server_utils.ServerStatus)) == {
        "success",
        "connection_error",
        "timeout",
        "unknown_error",
    }
    assert package_info.VERSION[:3] == (package_info.MAJOR, package_info.MINOR, package_info.PATCH) == (0, 2, 0)
