"""Reading a request body under a size cap, with streamed gzip decompression.

The cap applies to the bytes on the wire and again to the decompressed bytes;
decompression stops as soon as the output would pass the cap, so a gzip bomb
costs at most the cap in memory.
"""

import zlib

CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class UnsupportedEncoding(Exception):
    pass


def read_body(request, max_bytes: int) -> bytes:
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity", ""):
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    raw = _read_raw(request, max_bytes)
    return _gunzip(raw, max_bytes) if encoding == "gzip" else raw


def _read_raw(request, max_bytes: int) -> bytes:
    length = request.META.get("CONTENT_LENGTH")
    if length:
        try:
            declared = int(length)
        except ValueError:
            raise BadBody(f"invalid Content-Length {length!r}") from None
        if declared > max_bytes:
            raise BodyTooLarge(f"body of {declared} bytes is over the {max_bytes}-byte limit")
        stream = request  # Django's stream, bounded by Content-Length
    elif request.META.get("wsgi.input_terminated"):
        stream = request.META["wsgi.input"]  # chunked upload, de-chunked by the server
    else:
        return b""
    parts, size = [], 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"body is over the {max_bytes}-byte limit")
        parts.append(chunk)
    return b"".join(parts)


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    out, size = [], 0
    while data:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending = data
        while pending:
            try:
                chunk = decompressor.decompress(pending, max_bytes - size + 1)
            except zlib.error as exc:
                raise BadBody(f"corrupt gzip body: {exc}") from None
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge(f"decompressed body is over the {max_bytes}-byte limit")
            out.append(chunk)
            pending = decompressor.unconsumed_tail
            if decompressor.eof:
                break
            if not chunk and not pending:
                break
        if not decompressor.eof:
            raise BadBody("corrupt gzip body: truncated stream")
        data = decompressor.unused_data  # a further gzip member, if any
    return b"".join(out)
