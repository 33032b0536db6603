"""simple_agent: the model/tool loop (``/v1/responses``) and one scored rollout (``/run``).

``/v1/responses`` calls the model with the whole transcript, runs the function calls of each turn on the resources
server (one ``POST /<tool name>`` each, body = the parsed arguments) and feeds their raw reply text back, until the
model answers with a message and no call, its output is cut at ``max_output_tokens``, or ``max_steps`` model calls
have been made. ``/run`` seeds a session on the resources server, runs this agent's own ``/v1/responses`` with that
session's cookie (in-process, or over HTTP when a subclass serves its own route), and asks the resources server to
``/verify`` the result in the same session.

The hot path works on plain dicts and raw bytes (orjson): model replies are never validated into pydantic objects
and the verify reply is passed back byte for byte.
"""

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
from fastapi import Body, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field

from nemo_gym.base_resources_server import BaseRunRequest, BaseVerifyRequest, BaseVerifyResponse
from nemo_gym.base_responses_api_agent import BaseResponsesAPIAgentConfig, SimpleResponsesAPIAgent
from nemo_gym.config_types import DatasetConfig, ModelServerRef, ResourcesServerRef
from nemo_gym.openai_utils import NeMoGymResponse, NeMoGymResponseCreateParamsNonStreaming
from nemo_gym.server_utils import RepeatedErrorLog, RetryPolicy, default_retry_policy

logger = logging.getLogger(__name__)
_error_log = RepeatedErrorLog(logger)

DEFAULT_MAX_STEPS = 16
JSON_HEADERS = {"Content-Type": "application/json"}


class SimpleAgentConfig(BaseResponsesAPIAgentConfig):
    resources_server: ResourcesServerRef
    model_server: ModelServerRef
    # A step is one model call. `null` means no limit (a model that only ever reasons would then loop forever).
    max_steps: int | None = Field(default=DEFAULT_MAX_STEPS, ge=1)
    datasets: list[DatasetConfig] | None = None


class SimpleAgentRunRequest(BaseRunRequest):
    model_config = ConfigDict(extra="allow")


class SimpleAgentVerifyRequest(BaseVerifyRequest):
    model_config = ConfigDict(extra="allow")


class SimpleAgentVerifyResponse(BaseVerifyResponse):
    model_config = ConfigDict(extra="allow")


class InnerServerError(Exception):
    """A server this agent depends on failed or refused; answered as ``status`` with a JSON string naming it and why.

    The status is the inner server's own when it rejected the request as the caller's mistake (4xx), so the
    caller sees a client error it can fix and nobody retries it; 502 when the inner server or its upstream
    failed or could not be reached.
    """

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class SimpleAgent(SimpleResponsesAPIAgent):
    config: SimpleAgentConfig

    def setup_webserver(self) -> FastAPI:
        app = super().setup_webserver()

        async def inner_server_error(request: Request, error: InnerServerError) -> JSONResponse:
            _error_log.log(
                logging.WARNING, f"{error.status} {request.url.path}", "%s: %s", request.url.path, error.message[:500]
            )
            return JSONResponse(status_code=error.status, content=error.message)

        app.add_exception_handler(InnerServerError, inner_server_error)
        return app

    # ------------------------------------------------------------------------------------------ /v1/responses

    async def responses(
        self, request: Request, body: NeMoGymResponseCreateParamsNonStreaming = Body()
    ) -> NeMoGymResponse:
        params = body.model_dump(mode="json", exclude_unset=True)
        final, cookies = await self.run_tool_loop(params, request.cookies)
        response = Response(content=orjson.dumps(final), media_type="application/json")
        for name, value in cookies.items():
            # The caller passes these on (e.g. to /verify), so the resources session survives the loop.
            response.raw_headers.append((b"set-cookie", f"{name}={value}; Path=/; SameSite=lax".encode()))
        return response

    async def run_tool_loop(
        self, params: dict[str, Any], incoming_cookies: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Run the loop on JSON create-params; returns the last model reply (output = every item) and the cookies."""
        original_input = params.get("input", [])
        if isinstance(original_input, str):
            original_input = [{"role": "user", "content": original_input, "type": "message"}]
        tool_names = {tool.get("name") for tool in params.get("tools") or () if tool.get("type") == "function"}
        parallel = params.get("parallel_tool_calls", True) is not False
        # What each server is sent (its latest Set-Cookie wins) and everything to hand back to the caller.
        resources_cookies = dict(incoming_cookies)
        model_cookies = dict(incoming_cookies)
        returned_cookies = {name: value for name, value in incoming_cookies.items() if name != self.cookie_name}
        new_outputs: list[dict[str, Any]] = []
        last_response: dict[str, Any] = {}
        step = 0
        while True:
            step += 1
            last_response, set_cookies = await self._call_model(
                params | {"input": original_input + new_outputs}, model_cookies
            )
            model_cookies.update(set_cookies)
            returned_cookies.update(set_cookies)
            output = last_response["output"]
            new_outputs.extend(output)
            if (last_response.get("incomplete_details") or {}).get("reason") == "max_output_tokens":
                break  # calls in a truncated reply are not run
            calls = [item for item in output if item.get("type") == "function_call"]
            if not calls and any(item.get("type") == "message" and item.get("role") == "assistant" for item in output):
                break
            if calls:
                if parallel and len(calls) > 1:
                    results = await asyncio.gather(
                        *(self._call_tool(call, tool_names, resources_cookies) for call in calls)
                    )
                    for _, set_cookies in results:
                        resources_cookies.update(set_cookies)
                        returned_cookies.update(set_cookies)
                else:
                    results = []
                    for call in calls:
                        result = await self._call_tool(call, tool_names, resources_cookies)
                        resources_cookies.update(result[1])
                        returned_cookies.update(result[1])
                        results.append(result)
                new_outputs.extend(item for item, _ in results)
            if self.config.max_steps is not None and step >= self.config.max_steps:
                break
        return last_response | {"output": new_outputs}, returned_cookies

    async def _call_model(
        self, params: dict[str, Any], cookies: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        name = self.config.model_server.name
        raw, set_cookies = await self._post(
            f"Model server {name!r}", name, "/v1/responses", params, cookies, default_retry_policy().for_gym_server()
        )
        try:
            reply = orjson.loads(raw)
        except orjson.JSONDecodeError:
            reply = None
        if not isinstance(reply, dict) or not isinstance(reply.get("output"), list):
            raise InnerServerError(
                f"Received an invalid response from model server {name!r} (expected a Responses object with an "
                f"`output` list): {raw[:500].decode(errors='replace')}"
            )
        if not all(isinstance(item, dict) for item in reply["output"]):
            raise InnerServerError(f"Received an invalid response from model server {name!r}: non-object output item")
        return reply, set_cookies

    async def _call_tool(
        self, call: dict[str, Any], tool_names: set[str], cookies: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """One function call -> its ``function_call_output`` item; argument and name errors go back to the model."""
        name = call.get("name")
        call_id = call.get("call_id")
        arguments, problem = parse_tool_arguments(call.get("arguments"))
        if name not in tool_names:
            available = ", ".join(sorted(str(tool) for tool in tool_names)) or "none"
            problem = f"Error: unknown tool {name!r}. Available tools: {available}. Call one of them by its name."
        if problem is not None:
            return {"type": "function_call_output", "call_id": call_id, "output": problem}, {}
        server = self.config.resources_server.name
        try:
            # Tool calls may change session state, so a failed one is never re-sent on an HTTP error status.
            response = await self.server_client.post(
                server, f"/{name}", json=arguments, cookies=cookies, policy=_no_status_retry()
            )
            raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as error:
            raise InnerServerError(f"Resources server {server!r} failed on POST /{name}: {_describe(error)}") from None
        # HTTP errors (404, 422, 500 ...) are not fatal: their body is what the model sees.
        output = {"type": "function_call_output", "call_id": call_id, "output": raw.decode(errors="replace")}
        return output, _cookie_values(response)

    async def _post(
        self,
        label: str,
        server: str,
        path: str,
        payload: Any,
        cookies: Mapping[str, str],
        policy: RetryPolicy | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """POST and return (body, Set-Cookie values); a transport failure or non-2xx reply is an InnerServerError."""
        kwargs: dict[str, Any] = {"cookies": cookies, "policy": policy}
        if isinstance(payload, bytes):
            kwargs.update(data=payload, headers=JSON_HEADERS)
        else:
            kwargs["json"] = payload
        try:
            response = await self.server_client.post(server, path, **kwargs)
            raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as error:
            raise InnerServerError(f"{label} failed on POST {path}: {_describe(error)}") from None
        if not response.ok:
            raise InnerServerError(
                f"{label} failed on POST {path} (HTTP {response.status}): {_error_text(raw)}",
                status=passed_on_status(response.status),
            )
        return raw, _cookie_values(response)

    # ----------------------------------------------------------------------------------------------------- /run

    async def _own_responses(self, params: dict[str, Any], cookies: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """This agent's ``/v1/responses`` for ``/run``: in-process when the route is this class's own (the body was
        validated as part of the /run row already), over HTTP when a subclass serves its own route.

        In-process, a failure is reported exactly as the HTTP call would report it: the status and message the
        route would answer, wrapped as ``Agent '<name>' failed on POST /v1/responses (HTTP <status>): ...``.
        """
        label = f"Agent {self.config.name!r}"
        if type(self).responses is not SimpleAgent.responses:
            return await self._post(label, self.config.name, "/v1/responses", params, cookies, _no_status_retry())
        try:
            final, set_cookies = await self.run_tool_loop(params, cookies)
        except InnerServerError as error:
            _error_log.log(logging.WARNING, f"{error.status} /v1/responses", "/v1/responses: %s", error.message[:500])
            status, message = error.status, error.message
        except HTTPException as error:  # FastAPI's own handler would answer it: its status and detail
            status, message = error.status_code, str(error.detail)
        except Exception as error:
            status, message = self.error_answer(error, "/v1/responses")
        else:
            return orjson.dumps(final), set_cookies
        raise InnerServerError(
            f"{label} failed on POST /v1/responses (HTTP {status}): {message[:2000]}", status=passed_on_status(status)
        )

    async def run(self, request: Request, body: SimpleAgentRunRequest) -> SimpleAgentVerifyResponse:
        row = body.model_dump(mode="json", exclude_unset=True)
        row.pop("response", None)
        server = self.config.resources_server.name
        label = f"Resources server {server!r}"
        cookies = dict(request.cookies)

        _, set_cookies = await self._post(label, server, "/seed_session", row, cookies, _no_status_retry())
        cookies.update(set_cookies)

        # Not retried on an error status: the loop has already run tools in this session.
        response_raw, set_cookies = await self._own_responses(row["responses_create_params"], cookies)
        cookies.update(set_cookies)

        # The verify request is the row plus `response`; spliced as bytes to avoid re-encoding the whole transcript.
        verify_body = orjson.dumps(row)[:-1] + b',"response":' + response_raw + b"}"
        verify_raw, _ = await self._post(label, server, "/verify", verify_body, cookies, _no_status_retry())
        return Response(content=verify_raw, media_type="application/json")


def parse_tool_arguments(arguments: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object of a call's ``arguments``, or a message for the model saying what is wrong with them."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}, None  # some models send "" for a tool without parameters
    if isinstance(arguments, dict):
        return arguments, None
    try:
        parsed = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError) as error:
        return None, (
            f"Error: the tool call arguments are not valid JSON ({error}). "
            "Call the tool again with a single JSON object of its parameters."
        )
    if not isinstance(parsed, dict):
        return None, (
            f"Error: the tool call arguments must be a JSON object, got {type(parsed).__name__}. "
            "Call the tool again with a single JSON object of its parameters."
        )
    return parsed, None


def passed_on_status(inner_status: int) -> int:
    """What the agent answers for an inner server's error status: its 4xx as is, else 502.

    401/403/407 are the deployment's credentials, not the caller's request, so they are a 502 too.
    """
    if 400 <= inner_status < 500 and inner_status not in (401, 403, 407):
        return inner_status
    return 502


def _no_status_retry() -> RetryPolicy:
    return default_retry_policy().without_status_retries()


def _cookie_values(response: aiohttp.ClientResponse) -> dict[str, str]:
    """The response's Set-Cookie name/value pairs (read from the raw headers; quoted values through aiohttp)."""
    values = {}
    for header in response.headers.getall("Set-Cookie", ()):
        name, _, rest = header.partition("=")
        value = rest.partition(";")[0].strip()
        if not name.strip() or value.startswith('"'):
            return {name: morsel.value for name, morsel in response.cookies.items()}
        values[name.strip()] = value
    return values


def _error_text(raw: bytes) -> str:
    """An inner server's error body: its JSON string or ``detail`` if it has one, else the text (bounded)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:2000].decode(errors="replace")
    if isinstance(value, dict) and "detail" in value:
        value = value["detail"]
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:2000]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


if __name__ == "__main__":
    SimpleAgent.run_webserver()
