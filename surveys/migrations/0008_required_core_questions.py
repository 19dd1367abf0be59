from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("surveys", "0007_frozen_publication")]

    operations = []
