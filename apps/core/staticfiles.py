"""Static files served by the ASGI server itself, streamed without blocking its event loop.

WhiteNoise answers with a FileResponse over the open file: a synchronous iterator, which
Django's ASGI handler can only serve by reading it whole on a worker thread, and warns
("StreamingHttpResponse must consume synchronous iterators", once per file served) - the
server log of every page view. The same response with an asynchronous iterator streams
chunk by chunk, each read off the loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO, Any

from asgiref.sync import sync_to_async
from django.http import FileResponse, HttpRequest
from whitenoise.middleware import WhiteNoiseMiddleware

CHUNK_BYTES = 256 * 1024


async def file_chunks(handle: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """Yield the file's bytes in chunks, each read on a worker thread."""
    read = sync_to_async(handle.read, thread_sensitive=False)
    while chunk := await read(chunk_bytes):
        yield chunk


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing (HEAD, 304 Not Modified)


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise whose responses stream through an asynchronous iterator."""

    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> FileResponse:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        handle = response.file_to_stream
        # The response still closes the file when it is done (FileResponse registered it).
        response.streaming_content = file_chunks(handle) if handle is not None else _nothing()
        return response
