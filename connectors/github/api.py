"""Requests to GitHub's REST API through Max: the headers GitHub asks for, conditional requests, and
what its answers mean (a 403 is as often a rate limit as a refusal).

Rate limits (docs: "Rate limits for the REST API"): the primary limit answers 403 or 429 with
`x-ratelimit-remaining: 0` until `x-ratelimit-reset` (epoch seconds); a secondary limit answers 403 or
429 with a message saying so, and `retry-after` when GitHub says how long to wait, else at least a
minute. Max's host reads the same headers and holds every request of the installation meanwhile;
the connector reports the wait so the task is retried after it.
"""

import json
import time
from typing import Any, List, Optional, Sequence, Union

from max_connector import (
    ConnectorError,
    Forbidden,
    InvalidResponse,
    NotFound,
    Other,
    RateLimited,
    Transient,
    Unauthorized,
    http,
)

#: The REST API version this connector was written against.
API_VERSION = "2022-11-28"
#: Items per page: GitHub's most.
PER_PAGE = 100
#: How long to wait after a secondary limit that names no time (GitHub: "at least one minute").
SECONDARY_WAIT_MS = 60_000


def message_of(response: http.Response) -> str:
    """GitHub's error `message` (its bodies are `{"message", "documentation_url", "status"}`), or the
    start of the body."""
    try:
        body = json.loads(response.body)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return body["message"]
    except ValueError:
        pass
    text = response.text().strip()
    return text[:200] + "…" if len(text) > 200 else text


def is_rate_limited(response: http.Response, message: str) -> bool:
    return (
        response.header("retry-after") is not None
        or response.header("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    )


def wait_ms(response: http.Response) -> int:
    """How long a rate-limited request says to wait: `retry-after`, else until the primary limit's
    reset, else a minute."""
    retry_after = response.retry_after_ms()
    if retry_after is not None:
        return retry_after
    reset = response.header("x-ratelimit-reset") or ""
    if response.header("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0, int(reset) - int(time.time())) * 1000 + 1000
    return SECONDARY_WAIT_MS


def failure(response: http.Response) -> Optional[ConnectorError]:
    """The connector error an answer means, or None for a 2xx or a 304."""
    status = response.status
    if status < 400:
        return None
    message = message_of(response)
    if status in (403, 429) and is_rate_limited(response, message):
        return RateLimited(wait_ms(response))
    if status == 401:
        return Unauthorized(f"GitHub refused the token ({message}): check that it is valid and not expired")
    if status == 403:
        return Forbidden(f"GitHub refused the request: {message}")
    if status in (404, 410):
        error = NotFound(f"GitHub has no such resource (HTTP {status}): {message}")
        error.status = status  # 410 Gone: issues switched off, or an issue deleted
        return error
    if status == 408 or status >= 500:
        return Transient(f"GitHub answered HTTP {status}: {message}")
    return Other(f"GitHub answered HTTP {status}: {message}")


class Api:
    """GitHub at `base_url` (`https://api.github.com`, or a GitHub Enterprise or test server)."""

    def __init__(self, base_url: str, agent: str) -> None:
        self.base = base_url.rstrip("/")
        self.agent = agent

    def url(self, path_or_url: str) -> str:
        """An absolute URL: `Link` headers give them whole; paths are under the base URL."""
        return path_or_url if path_or_url.startswith(("http://", "https://")) else self.base + path_or_url

    def request(self, path_or_url: str, etag: Optional[str] = None) -> http.Request:
        request = (
            http.get(self.url(path_or_url))
            .credential("token")
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header("user-agent", self.agent)
        )
        if etag:
            request.header("if-none-match", etag)
        return request

    def get(self, path_or_url: str) -> http.Response:
        """A GET that succeeded, or the error its answer means."""
        response = self.request(path_or_url).send()
        error = failure(response)
        if error is not None:
            raise error
        return response

    def send_all(self, requests: Sequence[http.Request]) -> List[Union[http.Response, ConnectorError]]:
        """Sends requests concurrently; each result is a response (2xx or 304) or its error."""
        out: List[Union[http.Response, ConnectorError]] = []
        for result in http.send_all(requests):
            if isinstance(result, ConnectorError):
                out.append(result)
            else:
                error = failure(result)
                out.append(result if error is None else error)
        return out


def json_list(response: http.Response, what: str) -> List[Any]:
    """The body of a list endpoint: a bare JSON array."""
    body = response.json()
    if not isinstance(body, list):
        raise InvalidResponse(f"{what}: a JSON array expected, not {type(body).__name__}")
    return body


def json_object(response: http.Response, what: str) -> dict:
    body = response.json()
    if not isinstance(body, dict):
        raise InvalidResponse(f"{what}: a JSON object expected, not {type(body).__name__}")
    return body
