"""Team rollup histograms become dense: ``{"o": first bucket, "c": [counts…], "z": zeros}``.

Rows written before stored ``{"<bucket>": count, …, "z": zeros}``. Reading dense ones is
taking a list and merging them is adding lists, which is what large scopes need. Only rows
holding a histogram of the old form are rewritten.
"""

from django.db import migrations
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

# On PostgreSQL, only the rows with an old-form histogram are read at all.
OLD_FORM = RawSQL(
    """jsonb_path_exists(distributions, '$.* ? (@.type() == "object" && !exists(@.c))')""",
    [],
    output_field=BooleanField(),
)


def old_form(stored) -> bool:
    return isinstance(stored, dict) and "c" not in stored


def dense(stored: dict) -> dict:
    buckets = {int(key): count for key, count in stored.items() if key != "z" and count}
    data = {"o": 0, "c": []}
    if buckets:
        low = min(buckets)
        counts = [0] * (max(buckets) - low + 1)
        for key, count in buckets.items():
            counts[key - low] = count
        data = {"o": low, "c": counts}
    if stored.get("z"):
        data["z"] = stored["z"]
    return data


def forwards(apps, schema_editor):
    TeamRollup = apps.get_model("metrics", "TeamRollup")
    rows = TeamRollup.objects.all()
    if schema_editor.connection.vendor == "postgresql":
        rows = rows.filter(OLD_FORM)
    changed = []
    for pk, distributions in rows.values_list("pk", "distributions").iterator(chunk_size=1000):
        if any(old_form(stored) for stored in distributions.values()):
            converted = {name: dense(v) if old_form(v) else v for name, v in distributions.items()}
            changed.append(TeamRollup(pk=pk, distributions=converted))
    TeamRollup.objects.bulk_update(changed, ["distributions"], batch_size=200)


class Migration(migrations.Migration):
    dependencies = [("metrics", "0011_review_queue_and_unrecovered_indexes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
