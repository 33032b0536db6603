"""Helpers for tests and benchmarks: a scripted OpenAI-compatible upstream and in-process server runners."""
