"""Writes of the PagerDuty integration's set-up: the PagerDuty services a connection's key can read,
recorded as ``ExternalService`` rows so that an admin maps them before their first incident arrives.

Reading comes first (every page, every service checked), then one transaction writes: a service
new to e360 is added unmapped, a renamed one takes its new name; a mapping is never changed and a
service PagerDuty no longer lists is kept (its events and mapping stay). Loading twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from integrations.models import Connection, ExternalService
from integrations.pagerduty.client import PagerDuty, PagerDutyService


@dataclass(frozen=True)
class Loaded:
    listed: int
    added: int
    renamed: int

    def __str__(self) -> str:
        return (
            f"PagerDuty lists {self.listed} service{'s' if self.listed != 1 else ''}: "
            f"{self.added} new (to map under External services), {self.renamed} renamed, "
            f"{self.listed - self.added - self.renamed} unchanged."
        )


def external_services_load(*, connection: Connection) -> Loaded:
    """Read the services the connection's key sees and record them; ``IntegrationError`` (nothing
    written) when PagerDuty cannot be read or lists a service e360 cannot record."""
    with PagerDuty(connection) as pagerduty:
        found = pagerduty.services()
    return external_services_record(connection=connection, services=found)


@transaction.atomic
def external_services_record(*, connection: Connection, services: list[PagerDutyService]) -> Loaded:
    names = {service.id: service.name for service in services}  # a service listed twice: its last name
    existing = {
        external.external_id: external
        for external in ExternalService.objects.select_for_update().filter(
            connection=connection, external_id__in=list(names)
        )
    }
    new = [
        ExternalService(connection=connection, external_id=service_id, name=name)
        for service_id, name in names.items()
        if service_id not in existing
    ]
    renamed = []
    for service_id, external in existing.items():
        if names[service_id] and external.name != names[service_id]:
            external.name = names[service_id]
            renamed.append(external)
    # An event may record one of them meanwhile: the unique constraint keeps it once.
    ExternalService.objects.bulk_create(new, ignore_conflicts=True)
    ExternalService.objects.bulk_update(renamed, ["name"])
    return Loaded(listed=len(names), added=len(new), renamed=len(renamed))
