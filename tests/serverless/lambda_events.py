"""API Gateway events for a request, built on AWS's own sample events, and the handler's answers.

The samples are the REST API (v1) and HTTP API (v2) proxy events of aws-powertools' test
fixtures, read from `../shared/powertools-events/` beside the repository. Each event is a copy
of one, edited in memory: method, path, query, headers, body, and the caller's source IP.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_EVENTS = ROOT.parent / "shared" / "powertools-events"
# A documentation address (RFC 5737) as the caller API Gateway saw.
SOURCE_IP = "203.0.113.24"
HOST = "r4nd0m1d.execute-api.eu-west-1.amazonaws.com"


class Gateway(StrEnum):
    HTTP_API = "http_api_v2"
    REST_API = "rest_api_v1"


SAMPLE_FILES = {
    Gateway.REST_API: "apiGatewayProxyEvent.json",
    Gateway.HTTP_API: "apiGatewayProxyV2Event.json",
}


@cache
def _sample(gateway: Gateway) -> str:
    path = SAMPLE_EVENTS / SAMPLE_FILES[gateway]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the API Gateway sample events live there")
    return path.read_text()


def load_sample(gateway: Gateway) -> dict[str, Any]:
    """A fresh copy of the gateway's sample event, as AWS's fixtures have it."""
    event: dict[str, Any] = json.loads(_sample(gateway))
    return copy.deepcopy(event)


def build_event(
    gateway: Gateway,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    binary: bool = False,
    source_ip: str = SOURCE_IP,
) -> dict[str, Any]:
    """The event API Gateway would send for this request.

    `binary` bodies travel base64-encoded (`isBase64Encoded`), as API Gateway sends multipart
    and image uploads; text bodies travel as they are. The sample's own headers, cookies,
    query and body belong to its made-up request and are replaced.
    """
    event = load_sample(gateway)
    parts = urlsplit(url)
    path, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)
    sent = {"host": HOST, "user-agent": "MugShotStudio/1.0", **(headers or {})}
    if body is not None:
        sent["content-length"] = str(len(body))
    context = event["requestContext"]
    context["requestId"] = str(uuid.uuid4())
    if gateway is Gateway.HTTP_API:
        event["rawPath"] = path
        event["rawQueryString"] = urlencode(query)
        event.pop("cookies", None)
        event["pathParameters"] = None
        event["stageVariables"] = None
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key, []).append(value)
        # HTTP APIs join repeated query values with commas, and leave out an empty query.
        joined = {key: ",".join(values) for key, values in grouped.items()}
        if joined:
            event["queryStringParameters"] = joined
        else:
            event.pop("queryStringParameters", None)
        context["http"].update(method=method, path=path, sourceIp=source_ip)
        context.pop("authentication", None)
        context.pop("authorizer", None)
        # HTTP APIs send header names in lower case.
        event["headers"] = {key.lower(): value for key, value in sent.items()}
    else:
        event["resource"] = "/{proxy+}"
        event["path"] = path
        event["httpMethod"] = method
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        event["stageVariables"] = None
        context.update(httpMethod=method, path=path, resourcePath="/{proxy+}", resourceId="x1y2z3")
        context["identity"]["sourceIp"] = source_ip
        context["identity"].pop("clientCert", None)
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for key, value in query:
            single[key] = value
            multi.setdefault(key, []).append(value)
        event["queryStringParameters"] = single or None
        event["multiValueQueryStringParameters"] = multi or None
        # REST APIs pass header names as the client wrote them.
        titled = {_title(key): value for key, value in sent.items()}
        event["headers"] = titled
        event["multiValueHeaders"] = {key: [value] for key, value in titled.items()}
    if body is None:
        # HTTP APIs leave the body out of a bodiless request; REST APIs send null.
        event.pop("body", None)
        if gateway is Gateway.REST_API:
            event["body"] = None
        event["isBase64Encoded"] = False
    elif binary:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body.decode()
        event["isBase64Encoded"] = False
    return event


def json_event(
    gateway: Gateway,
    method: str,
    url: str,
    json_body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    source_ip: str = SOURCE_IP,
) -> dict[str, Any]:
    sent = dict(headers or {})
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent.setdefault("content-type", "application/json")
    return build_event(gateway, method, url, headers=sent, body=body, source_ip=source_ip)


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


@dataclass
class LambdaResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    base64_encoded: bool
    raw: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> LambdaResponse:
        headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        for key, values in (raw.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ", ".join(values)
        encoded = bool(raw.get("isBase64Encoded"))
        text = raw.get("body") or ""
        body = base64.b64decode(text) if encoded else text.encode()
        return cls(raw["statusCode"], headers, body, encoded, raw)

    def json(self) -> Any:
        return json.loads(self.body)
