"""HTTP layer: the pooled aiohttp client with its retry policy, ServerClient, and the FastAPI server base."""
