"""``NeMoGymAsyncOpenAI``: a small async client for OpenAI-compatible servers (vLLM, OpenAI) over the
process-wide aiohttp session and the shared retry policy. Re-exported by ``nemo_gym.openai_utils``."""

from typing import Any

import orjson
from aiohttp import ClientResponseError, RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from typing_extensions import TypedDict
from yarl import URL

from nemo_gym.http.client import request
from nemo_gym.http.retry_policy import RetryPolicy


class TokenizeResponse(TypedDict, total=False):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None


class UpstreamHTTPError(ClientResponseError):
    """An upstream answered with a non-2xx status; ``response_content`` holds the raw body."""

    def __init__(self, method: str, url: str, status: int, response_content: bytes) -> None:
        request_info = RequestInfo(URL(url), method, CIMultiDictProxy(CIMultiDict()), URL(url))
        message = response_content.decode("utf-8", errors="replace")[:2000]
        super().__init__(request_info, (), status=status, message=message)
        self.response_content = response_content


class NeMoGymAsyncOpenAI:
    """A small async client for OpenAI-compatible servers (vLLM, OpenAI) over the process-wide aiohttp session.

    Retries, back-off and timeouts come from the shared retry policy of ``nemo_gym.http.client`` (or the
    ``retry_policy`` given here); a non-2xx final answer raises :class:`UpstreamHTTPError`. Every method returns
    the parsed JSON body.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        default_headers: dict[str, str] | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retry_policy = retry_policy
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if default_headers:
            self._headers.update(default_headers)

    @property
    def root_url(self) -> str:
        """The server root: ``base_url`` without a trailing ``/v1`` (where vLLM serves ``/tokenize``)."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    async def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        response = await request(method, url, json=body, headers=self._headers, policy=self.retry_policy)
        try:
            content = await response.read()
        finally:
            response.release()
        if response.status >= 300:
            raise UpstreamHTTPError(method, url, response.status, content)
        return orjson.loads(content)

    async def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        return await self._request("POST", f"{self.base_url}/chat/completions", kwargs)

    async def create_response(self, **kwargs: Any) -> dict[str, Any]:
        return await self._request("POST", f"{self.base_url}/responses", kwargs)

    async def create_tokenize(self, **kwargs: Any) -> TokenizeResponse:
        return await self._request("POST", f"{self.root_url}/tokenize", kwargs)

    async def create_models(self) -> dict[str, Any]:
        return await self._request("GET", f"{self.base_url}/models")
