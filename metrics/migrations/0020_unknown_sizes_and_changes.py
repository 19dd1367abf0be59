# A pull request's additions and deletions may be unknown (empty) instead of 0. Rows already stored keep
# their values: a stored 0 cannot tell a change of no lines (a rename) from a size never sent, so no row is
# rewritten (docs/metrics.md, "Code review health"). An empty change list sent with a deployment was already
# stored as [] apart from an absent one (null); only the linking reads it differently.
from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("metrics", "0019_source_scope_and_secrets")]

    operations = [
        migrations.AlterField(
            model_name="pullrequest",
            name="additions",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="pullrequest",
            name="deletions",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
