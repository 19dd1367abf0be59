from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("metrics", "0019_source_scope_and_secrets")]

    operations = []
