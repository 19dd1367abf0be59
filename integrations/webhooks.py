"""The signed webhooks of GitHub, GitLab and PagerDuty: ``/hooks/<provider>/<webhook id>/``.

For every provider, in this order: find the connection the URL names (404 when there is none,
or it is not of that provider, or its source is inactive); check the signature or token in
constant time before reading anything of the body (401 and nothing stored when it is wrong or
missing); store the raw event (``metrics.InboundEvent``), deduplicated on the provider's
delivery id, before answering; queue its processing. An event e360 does not use is stored as
ignored, and a body that is not JSON (or holds text no database stores) is stored as failed with
the reason, retryable from the admin: both still get a 2xx, since providers disable hooks that
keep failing. A redelivery of a stored event is acknowledged and stored nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from uuid import UUID

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.models import Connection
from integrations.providers import provider
from metrics.ingest import inbound_store
from metrics.models import InboundEvent, Source
from metrics.services import Dirty
from metrics.storable import text_problem
from metrics.webhooks import parse_json, read_body, unstorable

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub's own cap on a webhook payload
Status = InboundEvent.Status


def _answer(status: int, message: str, **extra: object) -> JsonResponse:
    return JsonResponse({"message": message, **extra}, status=status)


@csrf_exempt
@require_POST
def receive(request: HttpRequest, provider_name: str, webhook_id: UUID) -> JsonResponse:
    spec = provider(provider_name)
    found = _webhook_secret(provider_name, webhook_id) if spec is not None else None
    if spec is None or found is None:
        return _answer(404, "No such webhook: copy its URL from the source's page in e360's admin.")
    source_id, secret = found
    body = read_body(request, MAX_BODY_BYTES)
    if body is None:
        return _answer(413, f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
    if not secret or not spec.verify(request.headers, body, secret):
        logger.warning("Webhook of source %s: signature missing or wrong", source_id)
        return _answer(401, "The signature (or token) does not match this source's webhook secret.")

    payload, problem = _payload(body)
    delivery = spec.delivery(request.headers, payload if problem is None else None)
    if problem is None and (header_problem := _header_problem(request, spec.kept_headers, delivery.delivery_id)):
        problem = header_problem
    status = Status.FAILED if problem else (Status.RECEIVED if delivery.kind in spec.kinds_used else Status.IGNORED)
    event = InboundEvent(
        source_id=source_id,
        delivery_id=_storable_id(delivery.delivery_id, body),
        kind=delivery.kind[:60],
        headers={name: request.headers[name] for name in spec.kept_headers if name in request.headers}
        if problem is None
        else {},
        payload=payload if problem is None else {"body": body.decode("utf-8", "replace").replace("\x00", "\ufffd")},
        status=status,
        error=problem or ("" if status == Status.RECEIVED else f"e360 does not use {delivery.kind} events"),
        processed_at=None if status == Status.RECEIVED else timezone.now(),
    )
    if inbound_store(event, queue=status == Status.RECEIVED) is None:  # processing marks the source's last event
        return _answer(200, "Already received: this delivery is stored.", delivery=event.delivery_id)
    if status != Status.RECEIVED:
        seen = Dirty()
        seen.sources.add(source_id)
        seen.schedule()  # the source's last event, to the minute
    if problem:
        return _answer(202, f"Stored, but it cannot be processed: {problem}.", delivery=event.delivery_id)
    if status == Status.IGNORED:
        return _answer(202, f"Stored as ignored: e360 does not use {delivery.kind} events.", delivery=event.delivery_id)
    return _answer(202, "Stored; it is processed in the background.", delivery=event.delivery_id)


# The webhook secret of each connection a worker process receives for, read again after a few
# seconds: it is the hot path's only read. A secret changed or a source deactivated in the admin
# holds in every process within this long (at once in the process that saved it).
SECRET_SECONDS = 5.0
_secrets: dict[tuple[str, UUID], tuple[float, int, str]] = {}


def _webhook_secret(provider_name: str, webhook_id: UUID) -> tuple[int, str] | None:
    """The source id and webhook secret of the active connection the URL names, or None."""
    now = time.monotonic()
    cached = _secrets.get((provider_name, webhook_id))
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    row = (
        Connection.objects.filter(webhook_id=webhook_id, source__kind=provider_name, source__is_active=True)
        .values_list("source_id", "webhook_secret")
        .first()
    )
    if row is None:
        _secrets.pop((provider_name, webhook_id), None)
        return None
    _secrets[provider_name, webhook_id] = (now + SECRET_SECONDS, row[0], row[1])
    return row


@receiver([post_save, post_delete], sender=Connection)
@receiver([post_save, post_delete], sender=Source)
def _forget_secrets(**kwargs: object) -> None:
    _secrets.clear()


def _payload(body: bytes) -> tuple[object, str | None]:
    """The decoded body and None, or None and why it cannot be stored as it is."""
    try:
        payload = parse_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"the body is not JSON ({exc})"
    if problem := unstorable(payload, body):
        return None, problem
    return payload, None


def _header_problem(request: HttpRequest, names: tuple[str, ...], delivery_id: str) -> str | None:
    for name, value in [(f"the {n} header", request.headers.get(n, "")) for n in names] + [
        ("the delivery id", delivery_id)
    ]:
        if problem := text_problem(value):
            return f"{name} {problem}"
    return None


def _storable_id(delivery_id: str, body: bytes) -> str:
    """The provider's delivery id; a hash of the body when it sent none (or one too long, or unstorable)."""
    if delivery_id and len(delivery_id) <= 200 and text_problem(delivery_id) is None:
        return delivery_id
    return "sha256:" + hashlib.sha256(body).hexdigest()
