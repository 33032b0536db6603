"""A shorter path through the framework for the simple JSON routes that servers call each other on.

Every internal hop (``/run``, ``/v1/responses``, ``/seed_session``, a tool, ``/verify``) is a POST of one JSON
body to a route whose endpoint is ``async def route(self, [request: Request,] body: SomeModel)``. FastAPI serves
such a request through a dozen layers (error middleware, telemetry, exception middleware, exit stacks, the
router, dependency solving) that do nothing for it, and they cost more CPU than the endpoint itself.

:class:`ServerApp` is a FastAPI app that serves these routes directly, with the same behaviour:

- the app's own middlewares (``ServerMiddleware``: size limit, session cookie, error answers; the replica
  session tag) still wrap the request, as separate instances of the same classes with the same arguments,
  inside Starlette's server-error middleware as in FastAPI's stack;
- the body is parsed with the same ``json.loads`` and validated by the route's own body field;
- the answer is the route's response field's validation and JSON serialisation, status and media type, as
  FastAPI's handler makes it; an exception goes to the app's exception handlers, as Starlette's would;
- anything else — an invalid body (so the 422 is FastAPI's own), another content type, a route with path,
  query, header or dependency parameters, a custom response class, an app with other middlewares, dependency
  overrides or FastAPI's native telemetry turned on — takes FastAPI's full path, unchanged.

The routes are looked up once the app serves its first request, and again whenever routes are added.
"""

import inspect
import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware as StarletteExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ROUTE_KEY = "nemo_gym.fast_route"
_TELEMETRY_CHECK_INTERVAL_S = 1.0
# What a route's dependant must leave empty for the short path to be exact.
_EMPTY_PARAMETER_LISTS = ("path_params", "query_params", "header_params", "cookie_params", "dependencies")
_UNSUPPORTED_SPECIAL_PARAMETERS = (
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


@dataclass(frozen=True)
class _FastRoute:
    route: APIRoute
    call: Any
    request_name: str | None
    body_name: str | None
    body_field: Any
    response_field: Any
    status_code: int


class ServerApp(FastAPI):
    """FastAPI, with the simple JSON routes served through :mod:`nemo_gym.http.fast_routes`' short path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_routes: _FastRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.dependency_overrides:
            fast = self._fast_routes
            if fast is None or fast.route_count != len(self.router.routes):
                fast = self._fast_routes = _FastRoutes(self)
            entry = fast.lookup(scope)
            if entry is not None:
                scope["app"] = self
                scope[_ROUTE_KEY] = entry
                await fast.front(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _FastRoutes:
    """The short path's table of ``(method, path) -> route`` and the middlewares it runs inside."""

    def __init__(self, app: ServerApp) -> None:
        from nemo_gym.http.middleware import ServerMiddleware
        from nemo_gym.http.replica_routing import ReplicaSessionTag

        self.app = app
        self.route_count = len(app.router.routes)
        self.table: dict[tuple[str, str], _FastRoute] = {}
        self.front: ASGIApp | None = None
        self._telemetry_checked_at = float("-inf")
        self._telemetry_on = False
        if app.middleware_stack is None:
            app.middleware_stack = app.build_middleware_stack()
        self.inner = _exception_middleware_of(app.middleware_stack)
        allowed = (ServerMiddleware, ReplicaSessionTag)
        if (
            self.inner is None
            or getattr(app, "max_body_size", None) is not None
            or app.root_path
            or any(middleware.cls not in allowed for middleware in app.user_middleware)
        ):
            return
        front: ASGIApp = self.dispatch
        for cls, args, kwargs in reversed(app.user_middleware):
            front = cls(front, *args, **kwargs)
        # Outermost, as in FastAPI's stack: what escapes after the middlewares is a plain 500 and is re-raised.
        error_handler = next((h for key, h in app.exception_handlers.items() if key in (500, Exception)), None)
        self.front = ServerErrorMiddleware(front, handler=error_handler, debug=app.debug)
        self._exception_handlers = {
            key: handler
            for key, handler in app.exception_handlers.items()
            if not isinstance(key, int) and key is not Exception
        }
        self._status_handlers = {key: h for key, h in app.exception_handlers.items() if isinstance(key, int)}
        earlier: list[Any] = []
        for route in app.router.routes:
            entry = _fast_route(route)
            if entry is not None:
                for method in route.methods:
                    key = (method, route.path)
                    if key not in self.table and not _matched_earlier(earlier, method, route.path):
                        self.table[key] = entry
            earlier.append(route)

    def lookup(self, scope: Scope) -> _FastRoute | None:
        if self.front is None or scope.get("root_path"):
            return None
        entry = self.table.get((scope["method"], scope["path"]))
        if entry is None or self._telemetry_enabled():
            return None
        return entry

    def _telemetry_enabled(self) -> bool:
        """FastAPI's native telemetry (checked at most once a second: the check reads the environment)."""
        now = time.monotonic()
        if now - self._telemetry_checked_at > _TELEMETRY_CHECK_INTERVAL_S:
            telemetry = getattr(self.app, "_native_telemetry", None)
            self._telemetry_on = bool(telemetry is not None and telemetry.enabled())
            self._telemetry_checked_at = now
        return self._telemetry_on

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry: _FastRoute = scope.pop(_ROUTE_KEY)
        scope.update(router=self.app.router, endpoint=entry.route.endpoint, route=entry.route, path_params={})
        body = b""
        try:
            body = await _read_body(receive)
            replay = _replaying(body, receive)
            values: dict[str, Any] = {}
            if entry.body_name is not None:
                parsed = _parse_json(scope, body)
                if parsed is None:
                    await self.inner(scope, replay, send)  # FastAPI's own handling (its 422 or 400)
                    return
                value, errors = entry.body_field.validate(parsed, {}, loc=("body",))
                if errors:
                    await self.inner(scope, replay, send)
                    return
                values[entry.body_name] = value
            request = Request(scope, replay)
            if entry.request_name is not None:
                values[entry.request_name] = request
            result = await entry.call(**values)
            response = _response(entry, result)
            if type(response) is bytes:  # the usual answer: JSON, sent as Starlette's Response would send it
                headers = [(b"content-length", str(len(response)).encode()), (b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": entry.status_code, "headers": headers})
                await send({"type": "http.response.body", "body": response})
                return
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None:
                raise
            request = Request(scope, _replaying(body, receive))
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, error)
            else:
                from starlette.concurrency import run_in_threadpool

                response = await run_in_threadpool(handler, request, error)
            if response is None:
                return
        await response(scope, receive, send)

    def _handler_for(self, error: Exception) -> Any:
        if isinstance(error, HTTPException) and error.status_code in self._status_handlers:
            return self._status_handlers[error.status_code]
        for cls in type(error).__mro__:
            if cls in self._exception_handlers:
                return self._exception_handlers[cls]
        return None


def _fast_route(route: Any) -> _FastRoute | None:
    """The route's short-path entry, or ``None`` when FastAPI's full path is needed to serve it exactly."""
    if type(route) is not APIRoute or route.param_convertors or not route.methods:
        return None
    dependant = getattr(route, "dependant", None)
    call = getattr(dependant, "call", None)
    if call is None or not inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return None
    if any(getattr(dependant, name, ()) for name in _EMPTY_PARAMETER_LISTS):
        return None
    if any(getattr(dependant, name, "missing") is not None for name in _UNSUPPORTED_SPECIAL_PARAMETERS):
        return None
    if route.dependencies or not isinstance(route.response_class, DefaultPlaceholder):
        return None
    if getattr(route, "max_body_size", None) is not None:
        return None
    status_code = route.status_code or 200
    if status_code < 200 or status_code in (204, 304):
        return None
    body_params = list(getattr(dependant, "body_params", None) or ())
    body_field = None
    if body_params:
        body_field = body_params[0]
        if (
            len(body_params) != 1
            or getattr(route, "_embed_body_fields", True)
            or type(body_field.field_info) is not params.Body
            or body_field.field_info.metadata
        ):
            return None
    response_field = route.response_field
    if response_field is not None and not hasattr(response_field, "serialize_json"):
        return None
    return _FastRoute(
        route=route,
        call=call,
        request_name=dependant.request_param_name,
        body_name=body_field.name if body_field is not None else None,
        body_field=body_field,
        response_field=response_field,
        status_code=status_code,
    )


def _matched_earlier(routes: list[Any], method: str, path: str) -> bool:
    """Whether a route listed before would take ``method path`` (the router takes the first full match)."""
    from starlette.routing import Match

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


def _exception_middleware_of(stack: Any) -> Any:
    """The app's exception middleware: the layer below the user's middlewares, where the full path goes on."""
    seen = set()
    while stack is not None and id(stack) not in seen:
        if isinstance(stack, StarletteExceptionMiddleware):
            return stack
        seen.add(id(stack))
        stack = getattr(stack, "app", None)
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for a body already read: the body first, then what the connection says (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _parse_json(scope: Scope, body: bytes) -> Any:
    """The body as FastAPI would parse it, or ``None`` when FastAPI must decide (no body, not JSON, invalid)."""
    if not body:
        return None
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            if media_type != b"application/json":
                return None
            break
    else:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _response(entry: _FastRoute, result: Any) -> Response | bytes:
    """What FastAPI's handler answers for ``result``: a response, or the JSON body of a plain 200-like answer."""
    if isinstance(result, Response):
        return result
    route = entry.route
    field = entry.response_field
    if field is None:
        return JSONResponse(jsonable_encoder(result), status_code=entry.status_code)
    value, errors = field.validate(result, {}, loc=("response",))
    if errors:
        raise ResponseValidationError(errors=errors, body=result)
    content = field.serialize_json(
        value,
        include=route.response_model_include,
        exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias,
        exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
    )
    return content
