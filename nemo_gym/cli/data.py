"""``ng_prepare_data``: validate and collate the datasets of a config's agents."""

from nemo_gym.cli.common import command, console, validate_command_config
from nemo_gym.config.cli_overrides import parse_overrides
from nemo_gym.config.loader import parse_config, resolve_subtree
from nemo_gym.rollouts.data_preparation import INITIAL_GLOBAL_CONFIG, TrainDataProcessorConfig, prepare_data


@command
def prepare_main() -> int:
    overrides = parse_overrides()
    if overrides.get("h") or overrides.get("help"):
        validate_command_config(TrainDataProcessorConfig, overrides)
    parsed = parse_config(overrides, initial=INITIAL_GLOBAL_CONFIG)
    names = set(TrainDataProcessorConfig.model_fields)
    parameters = {key: resolve_subtree(parsed.config, key) for key in parsed.config if key in names}
    config = validate_command_config(TrainDataProcessorConfig, parameters)
    result = prepare_data(config, parsed)
    if result.num_invalid:
        console.print(f"{result.num_invalid} invalid sample(s) were left out (see the warnings above).", markup=False)
        if config.mode == "example_validation":
            return 1
    return 0
