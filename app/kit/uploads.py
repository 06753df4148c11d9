"""Reading a multipart upload as a stream, stopping as soon as it grows past its size limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from app.kit.errors import AppError

# Room for the multipart framing and the small form fields sent beside the file.
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_FIELD_BYTES = 1024
MAX_PARTS = 10


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "The upload is too large."


class MalformedUpload(AppError):
    status = 400
    code = "malformed_upload"
    message = "The request body is not a valid multipart/form-data upload."


@dataclass
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class UploadForm:
    fields: dict[str, str]
    files: dict[str, UploadedFile]

    def file(self, name: str) -> UploadedFile:
        if name not in self.files:
            raise missing_field(name)
        return self.files[name]

    def field(self, name: str) -> str:
        if name not in self.fields:
            raise missing_field(name)
        return self.fields[name]


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _FormCollector:
    """Callbacks for python-multipart that keep the parts in memory within fixed bounds."""

    def __init__(self, *, file_field: str, max_file_bytes: int) -> None:
        self.file_field = file_field
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, str] = {}
        self.files: dict[str, UploadedFile] = {}
        self.parts = 0
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise MalformedUpload(f"An upload has at most {MAX_PARTS} parts.")
        self._part = _Part()
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise MalformedUpload("Every part needs a Content-Disposition name.")
        self._part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self._part.filename = options[b"filename"].decode("utf-8", "replace")
        if b"content-type" in self._headers:
            self._part.content_type = self._headers[b"content-type"].decode("latin-1")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        limit = self.max_file_bytes if part.name == self.file_field else MAX_FIELD_BYTES
        if len(part.data) + (end - start) > limit:
            if part.name == self.file_field:
                raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
            raise MalformedUpload(f"The form field {part.name!r} is too long.")
        part.data += data[start:end]

    def on_part_end(self) -> None:
        part = self._part
        if part.filename is not None or part.name == self.file_field:
            self.files[part.name] = UploadedFile(part.filename, part.content_type, bytes(part.data))
        else:
            self.fields[part.name] = part.data.decode("utf-8", "replace")


async def read_upload(request: Request, *, file_field: str, max_file_bytes: int) -> UploadForm:
    """Parse a multipart body while it arrives; at most `max_file_bytes` of file is ever held.

    A body that announces or reaches more than the limit (plus the form's framing) is refused
    with 413 before the rest of it is read, so an oversized upload costs neither memory nor time.
    """
    # Loaded with the first upload rather than at start-up.
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    media_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("body", file_field),
                    "msg": "Send the file as multipart/form-data.",
                    "input": None,
                }
            ]
        )
    max_body = max_file_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise PayloadTooLarge(f"The file is larger than {max_file_bytes} bytes.")

    collector = _FormCollector(file_field=file_field, max_file_bytes=max_file_bytes)
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise PayloadTooLarge(f"The file is larger than {max_file_bytes} bytes.")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise MalformedUpload() from exc
    return UploadForm(fields=collector.fields, files=collector.files)


def missing_field(name: str) -> RequestValidationError:
    """The same 422 body FastAPI sends when a declared form field is absent."""
    return RequestValidationError(
        [{"type": "missing", "loc": ("body", name), "msg": "Field required", "input": None}]
    )


def multipart_openapi(
    *,
    file_field: str,
    fields: dict[str, dict[str, Any]] | None = None,
    example: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The request body a route reading `read_upload` itself declares for the OpenAPI schema.

    The example shows the form's text fields; the file is the picture the person chooses.
    """
    properties: dict[str, Any] = {file_field: {"type": "string", "format": "binary"}}
    properties.update(fields or {})
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    media: dict[str, Any] = {"schema": schema}
    media["examples"] = {
        "upload": {
            "summary": "A PNG, JPEG or WebP image" + (" and its fields" if example else ""),
            "value": {file_field: "(the image file)", **(example or {})},
        }
    }
    return {"requestBody": {"required": True, "content": {"multipart/form-data": media}}}
