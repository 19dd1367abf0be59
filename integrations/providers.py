"""What a provider (GitHub, GitLab, PagerDuty) plugs into e360's webhook and processing.

A provider module exposes ``PROVIDER``, a ``Provider``: how to check a request's signature, which
event a request carries and its delivery id, whether e360 uses that event, and how a stored event
becomes records. The signed webhook (``integrations.webhooks``) and the inbound-event processing
(``metrics.ingest``, through ``register_processors``) are the same for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from metrics.ingest import register_processor
from metrics.models import InboundEvent
from metrics.services import Dirty

# The Source.Kind values of the providers, and their modules.
MODULES = {"github": "integrations.github", "gitlab": "integrations.gitlab", "pagerduty": "integrations.pagerduty"}

Processed = tuple[str, str]  # (InboundEvent.Status, note)
# A provider's handler of one event kind: (payload, the stored event, dirty) → processed.
Handler = Callable[[dict[str, Any], InboundEvent, Dirty], Processed]


@dataclass(frozen=True)
class Delivery:
    """What a request's headers and body say about it: its event kind (``<provider>.<event>``, e.g.
    ``github.pull_request``) and the provider's id for it (GitHub's ``X-GitHub-Delivery``...)."""

    kind: str
    delivery_id: str


@dataclass(frozen=True)
class Provider:
    name: str
    # Whether the request's signature or token proves it comes from the holder of ``secret``: in constant time.
    verify: Callable[[Mapping[str, str], bytes, str], bool]
    # The event and delivery id of a verified request (payload None: the body is not JSON).
    delivery: Callable[[Mapping[str, str], Any], Delivery]
    # The event kinds e360 turns into records; the others are stored as ignored.
    kinds_used: frozenset[str]
    # A stored event of a used kind → records, through metrics.services; (status, note).
    process: Callable[[InboundEvent, Dirty], Processed]
    # The headers kept with a stored event, to tell senders and deliveries apart. Never a signature.
    kept_headers: tuple[str, ...] = ()


def provider(name: str) -> Provider | None:
    module = MODULES.get(name)
    return import_module(module).PROVIDER if module else None


def register_processors() -> None:
    """Have ``metrics.ingest`` hand each provider's stored events to it."""
    for name in MODULES:
        if (found := provider(name)) is not None:
            register_processor(name, found.process)


def dispatch(handlers: Mapping[str, Handler], event: InboundEvent, dirty: Dirty) -> Processed:
    """Hand a stored event to the handler of its kind (``<provider>.<event>``: the handlers are keyed
    on the event); ignored when there is none, failed when the payload is not a JSON object."""
    handler = handlers.get(event.kind.partition(".")[2])
    if handler is None:
        return InboundEvent.Status.IGNORED, f"e360 does not use {event.kind} events"
    if not isinstance(event.payload, dict):
        return InboundEvent.Status.FAILED, "the payload is not a JSON object"
    return handler(event.payload, event, dirty)
