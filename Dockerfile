# NeMo Gym in a container: ng_run is PID 1 and shuts everything down on `docker stop` (SIGTERM).
FROM python:3.11-slim

# A compiler for llama-cpp-python (the local quick-start model); drop it if you only use remote models.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN pip install --no-cache-dir ".[local]"

ENV PYTHONUNBUFFERED=1
EXPOSE 11000
CMD ["ng_run", "+config_paths=[resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml,responses_api_models/local_model/configs/local_model.yaml]", "+default_host=0.0.0.0"]
