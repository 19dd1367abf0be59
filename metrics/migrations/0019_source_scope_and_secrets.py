from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

# The kinds of records a source writes into services.
RECORDS = ["Deployment", "Incident", "PullRequest", "PipelineRun", "Push"]


def keep_existing_writes(apps, schema_editor):
    """A source that already wrote outside the scope it now has keeps writing everywhere, so nothing in
    use starts failing; an admin narrows it by unticking "may write to every service". Every other
    source, and every source created from now on, writes only within its scope."""
    Source = apps.get_model("metrics", "Source")
    Team = apps.get_model("e360", "Team")
    Service = apps.get_model("e360", "Service")
    children: dict[int | None, list[int]] = {}
    for team_id, parent_id in Team.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(team_id)
    for source in Source.objects.all():
        team_ids: set[int] = set()
        stack = [source.team_id] if source.team_id else []
        while stack:
            team_id = stack.pop()
            if team_id not in team_ids:
                team_ids.add(team_id)
                stack.extend(children.get(team_id, ()))
        in_scope = models.Q(owner_id__in=team_ids) | models.Q(slug__in=list((source.repo_service_map or {}).values()))
        if source.default_service_id:
            in_scope |= models.Q(pk=source.default_service_id)
        scope = Service.objects.filter(in_scope).values("pk")
        if any(
            apps.get_model("metrics", name).objects.filter(source=source).exclude(service__in=scope).exists()
            for name in RECORDS
        ):
            source.may_write_every_service = True
            source.save(update_fields=["may_write_every_service"])


class Migration(migrations.Migration):
    dependencies = [("metrics", "0018_build_workflow_period_rollups")]

    operations = [
        # Never read by any code: a clear secret staff with view permission could read. Keys are ApiTokens.
        migrations.RemoveField(model_name="source", name="webhook_secret"),
        migrations.AddField(
            model_name="source",
            name="may_write_every_service",
            field=models.BooleanField(
                default=False,
                help_text="Otherwise the source writes only to its team's services (sub-teams' included), the services of its repository map and its default service.",
                verbose_name="may write to every service",
            ),
        ),
        migrations.RunPython(keep_existing_writes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="revoked_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Refused from this time on; a rotation sets it to the end of the overlap.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="source",
            name="team",
            field=models.ForeignKey(
                blank=True,
                help_text="Who runs this source. It may write to the services of this team and of the teams below it.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="e360.team",
            ),
        ),
    ]
