"""HTTP endpoints stations use: firmware download, diagnostics upload.

The token in the URL is the station's only credential (stations send no cookies, no CSRF
token and, in OCPP 1.6, no authentication with these transfers).
"""

from __future__ import annotations

import logging
import posixpath
import tempfile
from collections.abc import AsyncIterator
from typing import IO

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files import File
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.http import parse_header_parameters
from django.utils.text import get_valid_filename
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from apps.maintenance import diagnostics as diagnostics_services
from apps.maintenance import selectors

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
MAX_FILE_NAME = 150


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


async def _chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    # An async iterator: under ASGI a sync one would be read whole into memory first.
    while chunk := await sync_to_async(handle.read, thread_sensitive=False)(CHUNK_BYTES):
        yield chunk


def file_response(field: FieldFile, filename: str) -> HttpResponse:
    """Stream a stored file as an attachment; 404 when it is gone from storage."""
    try:
        handle = field.storage.open(field.name, "rb")
    except FileNotFoundError:
        return _text(404, "The file is missing from storage.")
    response = FileResponse(handle, as_attachment=True, filename=filename)
    # Headers (length, type, disposition) come from the file; the body streams in chunks.
    response.streaming_content = _chunks(handle)
    return response


@require_safe
def firmware_download(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    """Serve a firmware file to a station holding a valid, unexpired link."""
    try:
        firmware = selectors.firmware_for_link(token=token, filename=filename)
    except selectors.LinkExpired:
        return _text(403, "This firmware download link has expired; ask for a new update.")
    except selectors.LinkInvalid:
        return _text(404, "Unknown firmware download link.")
    logger.info("firmware %s downloaded by %s", firmware.pk, request.META.get("REMOTE_ADDR"))
    return file_response(firmware.file, firmware.filename)


def _safe_name(*candidates: str) -> str:
    for candidate in candidates:
        name = posixpath.basename((candidate or "").replace("\\", "/"))
        try:
            name = get_valid_filename(name)
        except Exception:  # SuspiciousFileOperation for "", ".", ".."
            continue
        if name:
            if len(name) > MAX_FILE_NAME:
                stem, dot, ext = name.rpartition(".")
                keep = MAX_FILE_NAME - len(ext) - 1
                name = stem[:keep] + "." + ext if dot and keep > 0 else name[:MAX_FILE_NAME]
            return name
    return "diagnostics.bin"


def _disposition_name(request: HttpRequest) -> str:
    header = request.headers.get("Content-Disposition", "")
    if not header:
        return ""
    _, params = parse_header_parameters(header)
    return params.get("filename", "")


@csrf_exempt
@require_http_methods(["POST", "PUT"])
def diagnostics_upload(request: HttpRequest, token: str, filename: str = "") -> HttpResponse:
    """Take a station's diagnostics upload: multipart POST (one file) or a raw body."""
    try:
        diagnostics = selectors.diagnostics_request_for_upload(token=token)
    except selectors.LinkExpired:
        return _text(403, "This upload link has expired; request diagnostics again.")
    except selectors.LinkInvalid:
        return _text(404, "Unknown upload link.")
    limit = diagnostics_services.MAX_UPLOAD_BYTES
    too_big = f"Uploads are limited to {limit} bytes."
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _text(413, too_big)
    if request.method == "POST" and request.content_type == "multipart/form-data":
        files = [f for name in request.FILES for f in request.FILES.getlist(name)]
        if len(files) != 1:
            return _text(400, f"Send exactly one file (got {len(files)}).")
        content = files[0]
        if content.size > limit:
            return _text(413, too_big)
        name = _safe_name(content.name, filename, diagnostics.file_name)
        diagnostics = diagnostics_services.diagnostics_file_store(
            diagnostics=diagnostics, name=name, content=content
        )
    else:
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            size = 0
            while chunk := request.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    return _text(413, too_big)
                body.write(chunk)
            if not size:
                return _text(400, "The upload is empty.")
            body.seek(0)
            name = _safe_name(filename, _disposition_name(request), diagnostics.file_name)
            diagnostics = diagnostics_services.diagnostics_file_store(
                diagnostics=diagnostics, name=name, content=File(body, name=name)
            )
    return _text(201, f"Stored {name} ({diagnostics.size} bytes).")
