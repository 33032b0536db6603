"""Test doubles and helpers for tests and benchmarks: a scripted OpenAI-compatible upstream, in-process server
runners and Responses builders. (The ``ng_test`` and ``ng_init_resources_server`` implementations are in
:mod:`nemo_gym.cli`.)"""
