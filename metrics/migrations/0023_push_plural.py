from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("metrics", "0022_worker_recovery")]

    operations = [
        migrations.AlterModelOptions(
            name="push", options={"ordering": ["-pushed_at"], "verbose_name_plural": "pushes"}
        ),
    ]
