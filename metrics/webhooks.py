"""The DevLake-compatible webhook: Apache DevLake's webhook plugin paths and bodies.

A CI script that posts to DevLake posts here unchanged but for the host (and
the connection id and key, which are e360's). Each request is authenticated,
size-checked, parsed and validated, stored raw as an ``InboundEvent`` and
acknowledged; a background task turns it into records
(``metrics.ingest.inbound_process``). On PostgreSQL, a small delivery to a
connection by id is checked, stored and queued by one statement (``_store_checked``).
("Delivery" here is the sender's word for one request, as in its ``delivery`` answer.)
Every answer is JSON, like DevLake's (``{"success": ..., "message": ...}``), and no
failure answers 500. Input that can never be stored (too large, too many items, text
with NUL or a lone surrogate, times the JSON API refuses) is a 4xx, never the 503
that tells a sender to retry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeGuard

from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from metrics.ingest import (
    KIND_DEPLOYMENT,
    KIND_ISSUE,
    KIND_ISSUE_CLOSE,
    PayloadError,
    TooManyItems,
    event_insert,
    inbound_drain_task,
    inbound_store,
    validate,
)
from metrics.models import ApiToken, InboundEvent, Source
from metrics.services import api_token_authenticate, api_token_used
from metrics.storable import json_text_problem, text_problem

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_ISSUE_KEY = 200
# Bodies up to this size are stored by one statement on PostgreSQL (DevLake's are a few hundred bytes).
ONE_STATEMENT_MAX_BYTES = 64 * 1024
# Headers worth keeping with a raw event, to tell senders apart. Never Authorization.
KEPT_HEADERS = ("User-Agent", "Content-Type", "X-Request-Id")


@dataclass(frozen=True)
class Parsed:
    payload: dict[str, Any]
    body_for_id: bytes  # what tells a retry from a new delivery


def _answer(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"success": 200 <= status < 300, "message": message, **extra}, status=status)


def _bearer_key(request: HttpRequest) -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def _connection(token: ApiToken, connection: str | None, connection_name: str | None) -> Source | None:
    """The token's source when it is the DevLake connection the path names, else None.

    A key of another source gets the same answer as a connection that does not
    exist, so a key holder learns nothing about other teams' connections.
    """
    source = token.source
    if source.kind != Source.Kind.DEVLAKE:
        return None
    if connection_name is not None:
        return source if source.name == connection_name else None
    return source if connection is not None and connection == str(source.pk) else None


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def read_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (read no further than that)."""
    if _declared_length(request) > limit:
        return None
    # request.read, not request.body: the body may exceed DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# The JSON escapes of text no database stores: NUL, and UTF-16 surrogates (alone, they are not Unicode).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def parse_json(body: bytes) -> Any:
    """The decoded body; ValueError for NaN/Infinity (which PostgreSQL's jsonb refuses)."""
    return json.loads(body, parse_constant=_reject_constant)


def unstorable(payload: Any, body: bytes) -> str | None:
    """Why the body holds text no database can store (NUL, a lone surrogate), or None.
    The walk only when such an escape is there at all: raw bytes were UTF-8 already."""
    return json_text_problem(payload) if _UNSTORABLE_ESCAPE.search(body) else None


def _path_or_header_problem(request: HttpRequest, path: dict[str, str]) -> str | None:
    """Why a path parameter or a kept header cannot be stored, or None (the body's own check is above)."""
    values = [(f"the {name.replace('_', ' ')}", value) for name, value in path.items()]
    values += [(f"the {name} header", request.headers[name]) for name in KEPT_HEADERS if name in request.headers]
    for where, value in values:
        if problem := text_problem(value):
            return f"{where} {problem}"
    return None


def _delivery_id(source_id: int, kind: str, issue_key: str, body: bytes) -> str:
    """Same source, kind and body: the same delivery (a client retry), absorbed as a duplicate.

    A changed body for the same record is a new delivery that updates it. A close has no body:
    retries within the same minute are duplicates, a close after a reopen is not.
    """
    digest = hashlib.sha256(f"{source_id}\n{kind}\n{issue_key}\n".encode())
    digest.update(body)
    if kind == KIND_ISSUE_CLOSE:
        digest.update(timezone.now().strftime("%Y-%m-%dT%H:%M").encode())
    return digest.hexdigest()


def _handle(request: HttpRequest, kind: str, **path: Any) -> JsonResponse:  # the URL's parts, for _receive
    if request.method != "POST":
        response = _answer(405, f"{request.method} is not allowed here; use POST")
        response["Allow"] = "POST"
        return response
    try:
        return _receive(request, kind=kind, **path)
    except DatabaseError:
        logger.exception("Could not store a %s delivery", kind)
        return _answer(503, "the delivery could not be stored; retry later")


def _receive(
    request: HttpRequest,
    *,
    kind: str,
    connection: str | None = None,
    connection_name: str | None = None,
    issue_key: str = "",
) -> JsonResponse:
    key = _bearer_key(request)
    received_at = timezone.now()
    parsed = None
    if key and _one_statement(connection) and 0 < _declared_length(request) <= ONE_STATEMENT_MAX_BYTES:
        # A small body is read before its key is checked, so that checking, storing and queueing
        # are one statement; a large one only once the key is known good.
        parsed = _parse(request, kind, issue_key, received_at)
        if isinstance(parsed, Parsed):
            answer = _store_checked(key, int(connection), kind, issue_key, parsed, request, received_at)
            if answer is not None:
                return answer
    # The ORM path, which also says what is wrong when the one statement stored nothing.
    token = api_token_authenticate(key)
    if token is None:
        response = _answer(401, "missing or invalid API key: send Authorization: Bearer <key>")
        response["WWW-Authenticate"] = 'Bearer realm="e360"'
        return response
    source = _connection(token, connection, connection_name)
    if source is None:
        return _answer(404, "connection not found")
    if parsed is None:
        parsed = _parse(request, kind, issue_key, received_at)
    if isinstance(parsed, JsonResponse):
        return parsed
    return _store(source, kind, issue_key, parsed, request, received_at)


def _parse(request: HttpRequest, kind: str, issue_key: str, received_at: datetime) -> Parsed | JsonResponse:
    """The payload and the bytes that identify the delivery, or the 4xx that says what is wrong.

    Every check that can never pass on a retry answers 4xx here, so senders do not retry
    forever: size, JSON, text the database cannot store, and the body read as the worker will
    read it (``validate``: the JSON API's rules, the item limit).
    """
    if len(issue_key) > MAX_ISSUE_KEY:
        return _answer(400, f"the issue key is longer than {MAX_ISSUE_KEY} characters")
    if problem := _path_or_header_problem(request, {"issue_key": issue_key} if issue_key else {}):
        return _answer(400, problem)
    body = read_body(request)
    if body is None:
        return _answer(413, f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
    if kind == KIND_ISSUE_CLOSE:  # DevLake's close takes no body
        return Parsed(payload={}, body_for_id=b"")
    try:
        payload = parse_json(body)
    except (ValueError, RecursionError) as exc:
        return _answer(400, f"the body is not valid JSON: {exc}"[:300])
    if not isinstance(payload, dict):
        return _answer(400, "the body must be a JSON object")
    if problem := unstorable(payload, body):
        return _answer(400, problem)
    try:
        validate(kind, payload, received_at=received_at)
    except TooManyItems as exc:
        return _answer(413, str(exc))
    except PayloadError as exc:
        return _answer(400, str(exc))
    return Parsed(payload=payload, body_for_id=body)


def _event(
    source_id: int, kind: str, issue_key: str, parsed: Parsed, request: HttpRequest, received_at: datetime
) -> InboundEvent:
    return InboundEvent(
        source_id=source_id,
        delivery_id=_delivery_id(source_id, kind, issue_key, parsed.body_for_id),
        kind=kind,
        path_params={"connection": source_id, **({"issue_key": issue_key} if issue_key else {})},
        headers={name: request.headers[name][:300] for name in KEPT_HEADERS if name in request.headers},
        payload=parsed.payload,
        received_at=received_at,
    )


def _stored(event_pk: int | None) -> JsonResponse:
    if event_pk is None:
        return _answer(200, "duplicate delivery: received before, not processed again", duplicate=True)
    return _answer(200, "accepted", delivery=event_pk)


def _store(
    source: Source, kind: str, issue_key: str, parsed: Parsed, request: HttpRequest, received_at: datetime
) -> JsonResponse:
    return _stored(inbound_store(_event(source.pk, kind, issue_key, parsed, request, received_at)))


def _one_statement(connection: str | None) -> TypeGuard[str]:
    """Whether an event can be stored by ``_store_checked``: on PostgreSQL, to a connection by id."""
    return (
        db_connection.vendor == "postgresql"
        and connection is not None
        and connection.isascii()
        and connection.isdecimal()
        and len(connection) < 10  # an integer column's range
    )


@cache
def _store_checked_sql(columns: str, placeholders: str) -> str:
    """Check the key, store the event unless it is a retry, and queue the source's drain unless
    one is queued: one statement, so one round trip and one commit per delivery (the key's check
    in front of ``metrics.ingest.inbound_store``'s statement)."""
    return f"""
        WITH token AS (
            SELECT t.id, t.last_used_at FROM {ApiToken._meta.db_table} t
            JOIN {Source._meta.db_table} s ON s.id = t.source_id
            WHERE t.key_hash = %s AND (t.revoked_at IS NULL OR t.revoked_at > %s)
              AND s.is_active AND s.kind = %s AND s.id = %s
        ), stored AS (
            INSERT INTO {InboundEvent._meta.db_table} ({columns}) SELECT {placeholders} FROM token
            ON CONFLICT (source_id, delivery_id) DO NOTHING RETURNING id
        ), queued AS (
            UPDATE {Source._meta.db_table} SET drain_queued = TRUE
            WHERE id = %s AND NOT drain_queued AND EXISTS (SELECT FROM stored) RETURNING id
        )
        SELECT token.id, token.last_used_at, (SELECT id FROM stored), EXISTS (SELECT FROM queued) FROM token
    """  # noqa: S608 - table and column names from the models; every value is a parameter


def _store_checked(
    key: str, source_id: int, kind: str, issue_key: str, parsed: Parsed, request: HttpRequest, received_at: datetime
) -> JsonResponse | None:
    """Store through the one statement; None when the key does not open this connection."""
    columns, placeholders, values = event_insert(_event(source_id, kind, issue_key, parsed, request, received_at))
    with db_connection.cursor() as cursor:
        cursor.execute(
            _store_checked_sql(columns, placeholders),
            [ApiToken.hash_key(key), received_at, Source.Kind.DEVLAKE, source_id, *values, source_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, last_used_at, event_pk, queued = row
    api_token_used(token_id, last_used_at)
    if queued:
        transaction.on_commit(lambda: inbound_drain_task(source_id))
    return _stored(event_pk)


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under DevLake's prefix (pull_requests, projects/...): a JSON 404, as DevLake answers."""
    return _answer(404, "no such endpoint")


@csrf_exempt
@transaction.non_atomic_requests
def deployments(
    request: HttpRequest, connection: str | None = None, connection_name: str | None = None
) -> JsonResponse:
    """POST .../connections/<id>/deployments: a deployment, current or legacy body."""
    return _handle(request, KIND_DEPLOYMENT, connection=connection, connection_name=connection_name)


@csrf_exempt
@transaction.non_atomic_requests
def issues(request: HttpRequest, connection: str | None = None, connection_name: str | None = None) -> JsonResponse:
    """POST .../connections/<id>/issues: an issue; only type INCIDENT becomes an incident."""
    return _handle(request, KIND_ISSUE, connection=connection, connection_name=connection_name)


@csrf_exempt
@transaction.non_atomic_requests
def issue_close(
    request: HttpRequest, issue_key: str, connection: str | None = None, connection_name: str | None = None
) -> JsonResponse:
    """POST .../connections/<id>/issue/<key>/close: the incident is resolved when this arrives."""
    return _handle(
        request, KIND_ISSUE_CLOSE, connection=connection, connection_name=connection_name, issue_key=issue_key
    )
