"""GitHub's webhook events as e360's records.

``process`` hands a stored event to the handler of its event (``HANDLERS``); each reads the
payload as GitHub documents it and writes through ``metrics.services``, idempotently (every
record is keyed on GitHub's own id). An action of an event that changes nothing e360 keeps is
ignored with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metrics.models import InboundEvent
from metrics.services import Dirty

Status = InboundEvent.Status
Handler = Callable[[dict[str, Any], InboundEvent, Dirty], tuple[str, str]]


def _ping(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    hook = payload.get("hook") or {}
    listed = ", ".join(sorted(hook.get("events") or [])) or "none listed"
    return Status.PROCESSED, f"GitHub says hello (hook {hook.get('id', '?')}; events: {listed})"


HANDLERS: dict[str, Handler] = {"ping": _ping}


def process(event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    handler = HANDLERS.get(event.kind.removeprefix("github."))
    if handler is None:
        return Status.IGNORED, f"e360 does not use {event.kind} events"
    if not isinstance(event.payload, dict):
        return Status.FAILED, "the payload is not a JSON object"
    return handler(event.payload, event, dirty)
