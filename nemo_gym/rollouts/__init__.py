"""Rollout collection (``ng_collect_rollouts``), data preparation (``ng_prepare_data``) and the rollout viewer."""
