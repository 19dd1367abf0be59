"""Remove the deployments and incidents the DevLake webhook stored with times no way in accepts now.

Before, the webhook took any time: ``9999-12-31T23:59:59-14:00`` became year 10000 in UTC,
which PostgreSQL keeps and Python cannot read back, so the service's refresh, its API lists
and the admin's lists failed. Every way in now refuses times outside 1970-01-01 … 2100-01-01
(``metrics.storable``), and the refresh leaves such rows out; this removes the ones stored
before, and names the services to rebuild (``manage.py rebuild_rollups <slug> …``). Only
deployments and incidents: the JSON API, the only way in for the other records, always
refused such times.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import migrations
from django.db.models import Q

# metrics.storable's EARLIEST and LATEST, as they were when this ran.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _out_of_range(*columns: str) -> Q:
    out = Q()
    for column in columns:
        out |= Q(**{f"{column}__lt": EARLIEST}) | Q(**{f"{column}__gte": LATEST})
    return out


def remove_unreadable_records(apps, schema_editor) -> None:
    services = set()
    for name, columns in (("Deployment", ("started_at", "finished_at")), ("Incident", ("started_at", "resolved_at"))):
        rows = apps.get_model("metrics", name).objects.filter(_out_of_range(*columns))
        services.update(rows.order_by().values_list("service__slug", flat=True).distinct())
        rows.only("pk").delete()  # read no time: PostgreSQL would send one Python cannot hold
    if services:
        print(
            f"\n  Removed records with times out of range; run: manage.py rebuild_rollups {' '.join(sorted(services))}"
        )


class Migration(migrations.Migration):
    dependencies = [("metrics", "0020_unknown_sizes_and_changes")]

    operations = [migrations.RunPython(remove_unreadable_records, migrations.RunPython.noop)]
