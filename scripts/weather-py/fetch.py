"""A blocking HTTP GET on componentize-py's own bindings of
`wasi:http/outgoing-handler@0.2.12` and `wasi:io` (no asyncio, no poll loop).

Every resource is released with `with`, innermost first: WASI resources have
parents (a pollable belongs to what it watches, a body stream to its body),
and dropping a parent while a child lives traps. Left to the garbage
collector, the order would be chance.
"""
import re
from typing import Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as http

NANOS_PER_MS = 1_000_000


class Failed(Exception):
    """The request failed; `kind` is the `error-code` case as the WIT spells
    it (`HTTP-request-denied`, `connection-refused`, …)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def kind_of(code: http.ErrorCode) -> str:
    """`ErrorCode_HttpRequestDenied` -> `HTTP-request-denied`."""
    words = re.findall("[A-Z][a-z]*", type(code).__name__.removeprefix("ErrorCode_"))
    kind = "-".join(w.lower() for w in words)
    head, _, rest = kind.partition("-")
    return f"{head.upper()}-{rest}" if head in ("http", "dns", "tls") else kind


def get(url: str, timeout_ms: int, max_bytes: int) -> Tuple[int, bytes]:
    """GETs `url` (http or https) and returns (status, body), or raises
    `Failed`. The gateway bounds the time and size too; these only shorten."""
    parts = urlsplit(url)
    request = http.OutgoingRequest(http.Fields.from_list([("accept", b"application/json")]))
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    query = f"?{parts.query}" if parts.query else ""
    request.set_path_with_query((parts.path or "/") + query)
    options = http.RequestOptions()
    for set_timeout in (options.set_connect_timeout, options.set_first_byte_timeout,
                        options.set_between_bytes_timeout):
        set_timeout(timeout_ms * NANOS_PER_MS)  # a wasi:clocks duration: nanoseconds
    try:
        # Both are handed to the host; a refusal (no grant) raises here.
        future = outgoing_handler.handle(request, options)
    except Err as e:
        raise Failed(kind_of(e.value)) from None
    with future:
        # Sleeps in the host until the status and headers are in (or it failed).
        with future.subscribe() as ready:
            ready.block()
        result = future.get()  # Some(Ok(Ok(response) | Err(code))) once ready
    if not isinstance(result, Ok) or not isinstance(result.value, Ok):
        raise Failed(kind_of(result.value.value) if isinstance(result, Ok) else "internal-error")
    with result.value.value as response:
        status = response.status()
        with response.consume() as body, body.stream() as stream:
            data = bytearray()
            while len(data) <= max_bytes:
                try:
                    data += stream.blocking_read(max_bytes + 1 - len(data))
                except Err as e:
                    if isinstance(e.value, streams.StreamError_Closed):
                        break  # the whole body is in
                    # The host says why (a timeout, the gateway's size cap).
                    with e.value.value as error:
                        code = http.http_error_code(error)
                    raise Failed("internal-error" if code is None else kind_of(code)) from None
            else:
                raise Failed("HTTP-response-body-size")
    return status, bytes(data)
