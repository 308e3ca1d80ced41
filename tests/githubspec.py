"""GitHub's own description of its REST API (tests/github-api/openapi-subset.json), for the fake.

Two uses: the fake's answers start from the description's examples (every success answer
with a body has one) with the test's values laid over them, and every request the jobs send
and every answer the fake gives is validated against the description (openapi-core), so
the fake stays GitHub's API as GitHub describes it, not our own reading of it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema.exceptions import ValidationError, best_match
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from starlette.requests import Request
from starlette.responses import Response

FILE = Path(__file__).parent / "github-api" / "openapi-subset.json"
SERVER = "https://api.github.com"
DROP = object()  # laid over a key: GitHub leaves that key out of this answer
_CONTENTS = re.compile(r"^(/repos/[^/]+/[^/]+/contents/)(.+)$")


@functools.cache
def description() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FILE.read_text(encoding="utf-8"))
    return data


@functools.cache
def _operations() -> dict[str, dict[str, Any]]:
    """operationId -> its operation, from every path and method of the description."""
    return {
        op["operationId"]: op
        for methods in description()["paths"].values()
        for op in methods.values()
        if isinstance(op, dict) and "operationId" in op
    }


@functools.cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(description(), config=Config(spec_validator_cls=None))


def _media(operation: str, status: int) -> dict[str, Any]:
    media: dict[str, Any] = _operations()[operation]["responses"][str(status)]["content"]["application/json"]
    return media


def example(operation: str, status: int = 200, name: str | None = None) -> Any:
    """A fresh copy of the description's example answer (the first, or the one named)."""
    examples = _media(operation, status)["examples"]
    return copy.deepcopy(examples[name or next(iter(examples))]["value"])


def schema_example(operation: str, status: int, *keys: str) -> dict[str, Any]:
    """An object of a schema that has no example answer of its own (the app behind a comment),
    made of each property's `example` in the description."""
    schema = _media(operation, status)["schema"]
    for key in keys:
        schema = schema["items"] if key == "[]" else schema["properties"][key]
    return {name: copy.deepcopy(p["example"]) for name, p in schema["properties"].items() if "example" in p}


def lay(base: Any, over: Any) -> Any:
    """`over` laid over `base`: objects merge key by key (DROP removes one), anything else replaces."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return copy.deepcopy(over)
    merged = dict(base)
    for key, value in over.items():
        if value is DROP:
            merged.pop(key, None)
        else:
            merged[key] = lay(base.get(key), value)
    return merged


def answer(operation: str, status: int = 200, example_name: str | None = None, /, **values: Any) -> Any:
    """The description's example answer (the first, or the one named) with the test's values laid
    over it (positional-only: an answer has fields named `status` and `name`)."""
    return lay(example(operation, status, example_name), values)


def error(status: int, message: str) -> dict[str, Any]:
    """An error as GitHub words it (`basic-error` and `validation-error` in the description)."""
    return {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }


def _request(method: str, path: str, query: dict[str, str], body: bytes, kind: str) -> MockRequest:
    found = _CONTENTS.match(path)  # a contents {path} holds slashes: one path segment to the router
    if found:
        path = found.group(1) + quote(found.group(2), safe="")
    return MockRequest(SERVER, method.lower(), path, args=query, data=body or None, content_type=kind)


def check_request(method: str, path: str, query: dict[str, str], body: bytes, kind: str) -> list[str]:
    """What in this request the description does not allow ([] when it conforms)."""
    try:
        _openapi().validate_request(_request(method, path, query, body, kind or "application/json"))
    except Exception as exc:  # openapi-core raises one class per kind of mismatch
        return [f"request {method} {path}: {p}" for p in _problems(exc)]
    return []


def check_response(
    method: str, path: str, query: dict[str, str], status: int, body: bytes, kind: str
) -> list[str]:
    """What in this answer the description does not allow ([] when it conforms)."""
    request = _request(method, path, query, b"", "application/json")
    response = MockResponse(body, status_code=status, content_type=kind or "application/json")
    try:
        _openapi().validate_response(request, response)
    except Exception as exc:
        return [f"answer {status} to {method} {path}: {p}" for p in _problems(exc)]
    return []


async def served(request: Request, call_next: Any) -> tuple[Response, list[str]]:
    """A Starlette middleware's request served, and what in it or its answer the description refuses."""
    path, query, kind = request.url.path, dict(request.query_params), request.headers.get("content-type", "")
    refused = check_request(request.method, path, query, await request.body(), kind)
    response: Response = await call_next(request)
    content = b"".join([chunk async for chunk in response.body_iterator])
    kind = response.headers.get("content-type", "")
    refused += check_response(request.method, path, query, response.status_code, content, kind)
    return Response(content, response.status_code, headers=dict(response.headers)), refused


def _problems(exc: Exception) -> list[str]:
    """The schema errors in words (where in the document, what is wrong there). A `oneOf` whose
    branches overlap is the description's own ambiguity, not the fake's fault: GitHub's 409 is
    either a `basic-error` or a rule violation, and a plain error is valid as both."""
    seen: BaseException | None = exc
    while seen is not None:
        errors = getattr(seen, "schema_errors", None)
        if errors:
            return [_one(best_match([e]) or e) for e in errors if not _overlap(e)][:3]
        seen = seen.__cause__ or seen.__context__
    return [f"{type(exc).__name__}: {str(exc)[:300]}"]


def _overlap(error: ValidationError) -> bool:
    return error.validator == "oneOf" and "is valid under each of" in error.message


def _one(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return f"at {where}: {error.message[:300]}"
