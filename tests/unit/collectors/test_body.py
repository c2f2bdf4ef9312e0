"""read_body: size caps on the wire and after gzip decompression."""

import gzip
import io
import random
import time
import tracemalloc
import zlib

import pytest
from django.test import RequestFactory

from collectors.body import BadBody, BodyTooLarge, UnsupportedEncoding, read_body

KB, MB = 1024, 1024 * 1024


def post(body: bytes, encoding: str | None = None):
    """A real WSGIRequest with Content-Length, as Django builds it."""
    headers = {"Content-Encoding": encoding} if encoding is not None else {}
    return RequestFactory().post("/v1/metrics", data=body, content_type="application/x-protobuf", headers=headers)


class ChunkedRequest:
    """A chunked upload as gunicorn hands it over: no Content-Length, wsgi.input_terminated set."""

    def __init__(self, body: bytes, encoding: str | None = None, terminated: bool = True):
        self.headers = {"Content-Encoding": encoding} if encoding else {}
        self.stream = io.BytesIO(body)
        self.META = {"wsgi.input": self.stream, "wsgi.input_terminated": terminated}

    def read(self, size=-1):
        raise AssertionError("a chunked body is read from wsgi.input")


class UnreadableRequest:
    """Fails the test if the body is read at all."""

    def __init__(self, headers: dict, content_length: str):
        self.headers = headers
        self.META = {"CONTENT_LENGTH": content_length}

    def read(self, size=-1):
        raise AssertionError("the body must not be read")


def gzip_members(*parts: bytes) -> bytes:
    return b"".join(gzip.compress(part) for part in parts)


def gzip_of_zeros(size: int) -> bytes:
    """gzip of `size` zero bytes, compressed in slices so the test itself stays small."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    out = [compressor.compress(block) for _ in range(size // MB)]
    return b"".join(out) + compressor.compress(bytes(size % MB)) + compressor.flush()


# --- identity --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", [None, "identity", "", "IDENTITY"])
def test_plain_body_is_returned_as_is(encoding):
    body = bytes(range(256)) * 10
    assert read_body(post(body, encoding), 4 * KB) == body


def test_body_exactly_at_the_cap_is_fine():
    assert read_body(post(b"x" * 2048), 2048) == b"x" * 2048


def test_declared_length_over_the_cap_is_refused_without_reading():
    with pytest.raises(BodyTooLarge, match="body of 2049 bytes is over the 2048-byte limit"):
        read_body(UnreadableRequest({}, "2049"), 2048)


def test_real_request_over_the_cap():
    with pytest.raises(BodyTooLarge):
        read_body(post(b"x" * 2049), 2048)


def test_invalid_content_length_is_a_bad_body():
    with pytest.raises(BadBody, match="invalid Content-Length 'abc'"):
        read_body(UnreadableRequest({}, "abc"), 2048)


def test_chunked_body_is_read_from_wsgi_input():
    body = b"y" * (200 * KB)  # several reads
    assert read_body(ChunkedRequest(body), MB) == body


def test_chunked_body_over_the_cap():
    request = ChunkedRequest(b"y" * (300 * KB))
    with pytest.raises(BodyTooLarge, match="over the 204800-byte limit"):
        read_body(request, 200 * KB)
    assert request.stream.tell() < 300 * KB  # stopped reading once over the cap


def test_no_length_and_not_chunked_is_an_empty_body():
    assert read_body(ChunkedRequest(b"ignored", terminated=False), MB) == b""


# --- gzip ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip "])
def test_gzip_body_is_decompressed(encoding):
    body = b"hello otlp " * 1000
    assert read_body(post(gzip.compress(body), encoding), 64 * KB) == body


def test_chunked_gzip_body_is_decompressed():
    body = bytes(range(256)) * 1000
    assert read_body(ChunkedRequest(gzip.compress(body), "gzip"), MB) == body


def test_decompressed_exactly_at_the_cap_is_fine():
    body = b"a" * (100 * KB)
    assert read_body(post(gzip.compress(body), "gzip"), 100 * KB) == body


def test_decompressed_one_byte_over_the_cap_is_too_large():
    with pytest.raises(BodyTooLarge, match="decompressed body is over the 102400-byte limit"):
        read_body(post(gzip.compress(b"a" * (100 * KB + 1)), "gzip"), 100 * KB)


def test_compressed_body_over_the_cap_on_the_wire_is_too_large():
    wire = gzip.compress(random.Random(0).randbytes(4096))  # incompressible
    assert len(wire) > 1024
    with pytest.raises(BodyTooLarge, match="body of"):
        read_body(post(wire, "gzip"), 1024)


def test_gzip_bomb_stops_at_the_cap_quickly_and_small():
    bomb = gzip_of_zeros(50 * MB)
    assert len(bomb) < 100 * KB
    request = post(bomb, "gzip")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BodyTooLarge):
            read_body(request, MB)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB while reading a 1 MB-capped body"


def test_multi_member_gzip_is_concatenated():
    assert read_body(post(gzip_members(b"first,", b"second,", b"third"), "gzip"), MB) == b"first,second,third"


def test_multi_member_gzip_counts_all_members_against_the_cap():
    wire = gzip_members(b"a" * (60 * KB), b"b" * (60 * KB))
    with pytest.raises(BodyTooLarge):
        read_body(post(wire, "gzip"), 100 * KB)


def test_empty_gzip_member_is_an_empty_body():
    assert read_body(post(gzip.compress(b""), "gzip"), KB) == b""


@pytest.mark.parametrize("cut", [1, 10, 20, -8, -1])
def test_truncated_gzip_is_a_bad_body(cut):
    wire = gzip.compress(bytes(range(256)) * 40)
    with pytest.raises(BadBody, match="corrupt gzip body"):
        read_body(post(wire[:cut], "gzip"), MB)


def test_truncated_second_member_is_a_bad_body():
    wire = gzip_members(b"complete", b"cut short" * 100)
    with pytest.raises(BadBody, match="corrupt gzip body"):
        read_body(post(wire[:-5], "gzip"), MB)


def test_corrupt_checksum_is_a_bad_body():
    wire = bytearray(gzip.compress(b"payload " * 100))
    wire[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(BadBody, match="corrupt gzip body"):
        read_body(post(bytes(wire), "gzip"), MB)


@pytest.mark.parametrize("wire", [b"not gzip at all", b"\x1f\x8b\x08\x00garbage", zlib.compress(b"zlib, not gzip")])
def test_not_gzip_is_a_bad_body(wire):
    with pytest.raises(BadBody, match="corrupt gzip body"):
        read_body(post(wire, "gzip"), MB)


def test_garbage_after_a_member_is_a_bad_body():
    with pytest.raises(BadBody, match="corrupt gzip body"):
        read_body(post(gzip.compress(b"ok") + b"trailing junk", "gzip"), MB)


# --- other encodings -------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "x-gzip", "gzip, br", "compress"])
def test_unsupported_encoding_is_refused_before_reading(encoding):
    with pytest.raises(UnsupportedEncoding, match="is not supported; use gzip or none"):
        read_body(UnreadableRequest({"Content-Encoding": encoding}, "10"), MB)
