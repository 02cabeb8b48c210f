"""Test a connector natively (plain CPython, no Max): a fake HTTP host answers the connector's requests,
and `rows` reads a batch back.

    with FakeHttp() as fake:
        fake.get("https://api.acme.dev/api/workspaces", json=[{"id": "w1", "name": "Acme"}])
        connector = Acme(Config([("base_url", "https://api.acme.dev")]))
        page = connector.load_page("workspaces", EntityRef("Account", "acme"), None)
        assert rows(page.items) == [{"id": "w1", "name": "Acme", ...}]
        assert fake.requests[0].credential_name == "api_key"
"""

from __future__ import annotations

import json as _json
import struct
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from . import http
from .batch import Batch
from .errors import ConnectorError

Handler = Callable[[http.Request], http.Response]


class FakeHttp(http.Transport):
    """Answers requests from routes (method and URL, the query ignored unless the route has one) and
    records every request. A request no route answers gets a 404 naming it. Use as a context manager,
    which routes the SDK's requests here and back."""

    def __init__(self) -> None:
        self.routes: List[Tuple[str, str, Handler]] = []
        #: Every request sent, in order.
        self.requests: List[http.Request] = []
        self._previous: Optional[http.Transport] = None

    def __enter__(self) -> "FakeHttp":
        self._previous = http.set_transport(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            http.set_transport(self._previous)

    def route(self, method: str, url: str, handler: Handler) -> "FakeHttp":
        """Answers `method url` with `handler(request)`; later routes win."""
        self.routes.insert(0, (method.lower(), url, handler))
        return self

    def get(
        self,
        url: str,
        json: Any = None,
        status: int = 200,
        headers: Optional[Dict[str, str]] = None,
        body: Union[bytes, str, None] = None,
    ) -> "FakeHttp":
        """Answers GET `url` with `json` (or `body`), `status` and `headers`."""
        return self.route("get", url, respond(json, status, headers, body))

    def post(
        self,
        url: str,
        json: Any = None,
        status: int = 200,
        headers: Optional[Dict[str, str]] = None,
        body: Union[bytes, str, None] = None,
    ) -> "FakeHttp":
        """Answers POST `url` with `json` (or `body`), `status` and `headers`."""
        return self.route("post", url, respond(json, status, headers, body))

    def send(self, request: http.Request) -> Union[http.Response, ConnectorError]:
        self.requests.append(request)
        for method, url, handler in self.routes:
            if method == request.method and _matches(url, request.url):
                return handler(request)
        return http.Response(404, [("content-type", "text/plain")], f"no fake route for {request.method.upper()} {request.url}".encode())


def respond(
    json: Any = None, status: int = 200, headers: Optional[Dict[str, str]] = None, body: Union[bytes, str, None] = None
) -> Handler:
    """A handler that answers every request the same way."""
    if body is None:
        body = b"" if json is None else _json.dumps(json).encode()
    data = body.encode() if isinstance(body, str) else body
    pairs = [(k.lower(), v) for k, v in (headers or {}).items()]
    if json is not None:
        pairs.append(("content-type", "application/json"))
    return lambda _request: http.Response(status, pairs, data)


def _matches(route: str, url: str) -> bool:
    if "?" in route:
        return route == url
    return url.split("?", 1)[0] == route


def query(request: http.Request) -> Dict[str, str]:
    """The query parameters of a request, decoded."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def rows(batch: Batch) -> List[Dict[str, Any]]:
    """The rows of a batch, read back from its packed buffers: `{"id": ..., column: value}` each.
    Datetimes, references and JSON come back as their text, collections as lists of ids."""
    data, text = batch.packed()
    encoded = text.encode("utf-8")
    pos, text_pos, out = 0, 0, []

    def varint() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    def span() -> str:
        nonlocal text_pos
        length = varint()
        piece = encoded[text_pos : text_pos + length].decode("utf-8")
        text_pos += length
        return piece

    for _ in range(batch.row_count):
        row: Dict[str, Any] = {}
        for _ in batch.columns:
            column = varint()
            tag = data[pos]
            pos += 1
            name = batch.columns[column]
            if tag == 0:
                row[name] = None
            elif tag in (1, 6, 7, 8):
                row[name] = span()
            elif tag == 2:
                row[name] = struct.unpack_from("<q", data, pos)[0]
                pos += 8
            elif tag == 3:
                row[name] = struct.unpack_from("<d", data, pos)[0]
                pos += 8
            elif tag in (4, 5):
                row[name] = tag == 5
            elif tag == 9:
                row[name] = [span() for _ in range(varint())]
        row["id"] = span()
        out.append(row)
    return out
