"""HTTP through the host: the only way a connector reaches the network.

The host checks every request against the hosts the user granted, attaches the secret a request names
by `credential` (the connector never sees it), and enforces timeouts, size caps and rate limits.

    response = http.get(f"{base}/api/tasks?limit=100").credential("api_key").send().ok()
    tasks = response.json()
"""

from __future__ import annotations

import json as _json
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from .errors import (
    ConnectorError,
    Forbidden,
    InvalidInput,
    InvalidResponse,
    NotFound,
    Other,
    RateLimited,
    Transient,
    Unauthorized,
)

METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def transport_error(case: str, detail: Any = None) -> ConnectorError:
    """The connector error a request that got no response raises (as the Rust SDK maps them): `denied`
    is forbidden, `unknown-credential` and `invalid-request` invalid input, `timeout` and `connection`
    transient, `too-large` an invalid response."""
    if case == "denied":
        return Forbidden(f"the host refused the request: {detail}")
    if case == "unknown-credential":
        return InvalidInput(f"unknown credential `{detail}`")
    if case == "invalid-request":
        return InvalidInput(f"invalid request: {detail}")
    if case == "timeout":
        return Transient("request timed out")
    if case == "connection":
        return Transient(f"connection failed: {detail}")
    if case == "too-large":
        return InvalidResponse(f"response larger than {detail} bytes")
    return Other(f"{case}: {detail}")


class Request:
    """A request being built; `send()` sends it through the host."""

    def __init__(self, method: str, url: str) -> None:
        if method not in METHODS:
            raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
        self.method = method
        self.url = url
        self.headers: List[Tuple[str, str]] = []
        self.body: Optional[bytes] = None
        self.credential_name: Optional[str] = None
        self.timeout: Optional[int] = None

    def header(self, name: str, value: str) -> "Request":
        """Adds a header."""
        self.headers.append((name, value))
        return self

    def credential(self, name: str) -> "Request":
        """Has the host attach the declared credential `name` (its secret never reaches the connector)."""
        self.credential_name = name
        return self

    def json(self, body: Any) -> "Request":
        """Sends `body` as JSON."""
        self.body = _json.dumps(body, separators=(",", ":")).encode()
        return self.header("content-type", "application/json")

    def data(self, body: Union[bytes, str]) -> "Request":
        """Sends raw bytes (or text as UTF-8)."""
        self.body = body.encode() if isinstance(body, str) else bytes(body)
        return self

    def timeout_ms(self, ms: int) -> "Request":
        """A timeout for this request; the host caps it at its own limit."""
        self.timeout = ms
        return self

    def send(self) -> "Response":
        """Sends the request and waits for its response (any status is a response)."""
        result = _transport.send(self)
        if isinstance(result, ConnectorError):
            raise result
        return result


def get(url: str) -> Request:
    """A GET request."""
    return Request("get", url)


def post(url: str) -> Request:
    """A POST request."""
    return Request("post", url)


def send_all(requests: Sequence[Request]) -> List[Union["Response", ConnectorError]]:
    """Sends several requests concurrently through the host; each result is a `Response` or the
    `ConnectorError` (see `transport_error`) that request got, in the same order."""
    return _transport.send_all(list(requests))


class Response:
    """A response: status, headers (names in lowercase), body."""

    def __init__(self, status: int, headers: Sequence[Tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = list(headers)
        self.body = body

    def header(self, name: str) -> Optional[str]:
        """The first header with this (case-insensitive) name."""
        name = name.lower()
        return next((v for n, v in self.headers if n.lower() == name), None)

    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; `InvalidResponse` when it isn't."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise InvalidResponse(f"invalid JSON in a {self.status} response: {e}") from None

    def ok(self) -> "Response":
        """The response for a 2xx status, else raises the error the status means: 401 unauthorized,
        403 forbidden, 404 not found, 429 rate limited (with `Retry-After`), 408 and 5xx transient,
        anything else other. The message quotes the start of the body."""
        if 200 <= self.status < 300:
            return self
        summary = f"HTTP {self.status}: {self._excerpt()}"
        if self.status == 401:
            raise Unauthorized(summary)
        if self.status == 403:
            raise Forbidden(summary)
        if self.status == 404:
            raise NotFound(summary)
        if self.status == 429:
            raise RateLimited(self.retry_after_ms())
        if self.status == 408 or 500 <= self.status <= 599:
            raise Transient(summary)
        raise Other(summary)

    def retry_after_ms(self) -> Optional[int]:
        """`Retry-After` in milliseconds, when it is a number of seconds."""
        try:
            seconds = float((self.header("retry-after") or "").strip())
        except ValueError:
            return None
        return int(seconds * 1000) if seconds >= 0 else None

    def link_next(self) -> Optional[str]:
        """The URL of the `rel="next"` entry of a `Link` header (GitHub-style pagination)."""
        header = self.header("link")
        return link_next(header) if header else None

    def _excerpt(self) -> str:
        text = self.text().strip()
        return text[:200] + "…" if len(text) > 200 else text


def encode_query(value: str) -> str:
    """`value` percent-encoded for a URL's query (every byte but RFC 3986's unreserved ones)."""
    unreserved = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in unreserved else f"%{b:02X}" for b in str(value).encode("utf-8"))


def link_next(header: str) -> Optional[str]:
    """The `rel="next"` target of an RFC 8288 `Link` header value."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        rels = [p.strip().partition("=") for p in params.split(";")]
        if any(name.strip() == "rel" and "next" in value.strip('" ').split() for name, _, value in rels):
            target = target.strip()
            if target.startswith("<") and target.endswith(">"):
                return target[1:-1]
    return None


def graphql(endpoint: str, credential: str, query: str, variables: Any = None) -> Any:
    """Sends a GraphQL query and returns its `data`; GraphQL errors become connector errors (a
    `RATELIMITED` code is rate-limited, authentication errors unauthorized)."""
    response = post(endpoint).credential(credential).json({"query": query, "variables": variables or {}}).send()
    try:
        body = _json.loads(response.body)
    except ValueError:
        response.ok()
        raise InvalidResponse("GraphQL response is not JSON") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        error = errors[0] if isinstance(errors[0], dict) else {}
        message = str(error.get("message") or "GraphQL error")
        extensions = error.get("extensions") or {}
        code = str(extensions.get("code") or extensions.get("type") or "").lower()
        if code == "ratelimited":
            raise RateLimited(response.retry_after_ms())
        if code in ("authentication error", "authentication_error", "unauthenticated") or response.status == 401:
            raise Unauthorized(message)
        if code == "forbidden":
            raise Forbidden(message)
        if response.status >= 500:
            raise Transient(message)
        raise Other(message)
    response.ok()
    data = body.get("data") if isinstance(body, dict) else None
    if data is None:
        raise InvalidResponse(f"GraphQL response without data (HTTP {response.status})")
    return data


class Transport:
    """Where requests go: the host's `http` import inside a component, a fake in native tests
    (`max_connector.testing`)."""

    def send(self, request: Request) -> Union[Response, ConnectorError]:
        raise NotImplementedError

    def send_all(self, requests: List[Request]) -> List[Union[Response, ConnectorError]]:
        return [self.send(r) for r in requests]


class _Unavailable(Transport):
    def send(self, request: Request) -> Union[Response, ConnectorError]:
        raise InvalidInput(
            "HTTP goes through Max's host: build the connector into a component, or in native tests "
            "install a fake with `max_connector.testing.FakeHttp`"
        )


_transport: Transport = _Unavailable()


def set_transport(transport: Transport) -> Transport:
    """Routes every request to `transport`; returns the one it replaces."""
    global _transport
    previous, _transport = _transport, transport
    return previous
