from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("surveys", "0006_answer_pool")]

    operations = []
