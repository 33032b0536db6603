"""How a server process starts: the environment contract with the process that launches it (ng_run, a trainer,
a test), its own config, logging with secret scrubbing, HTTP-client settings, and joining the run's Ray cluster.

Imports only :mod:`nemo_gym.config` and :mod:`nemo_gym.errors` at module level, so every layer may use it.
"""
