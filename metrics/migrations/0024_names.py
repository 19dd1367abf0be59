"""One name per field (issue 15, item 1): each model field is named as the JSON API names it.

Renames keep the data: a pull request's and a review's ``author_login`` is ``author`` (the login),
and the pull request's person is ``person``; a deployment's ``sent_changes`` is ``changes`` (the
changes linking attributes to it, the reverse of ``PullRequest.deployment``, are ``linked_changes``);
a push's ``before_sha``, ``after_sha`` and ``commit_shas`` are ``before``, ``after`` and ``commits``.
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0023_push_plural"),
    ]

    operations = [
        migrations.RenameField("pullrequest", "author", "person"),
        migrations.RenameField("pullrequest", "author_login", "author"),
        migrations.AlterField(
            model_name="pullrequest",
            name="author",
            field=models.CharField(blank=True, help_text="The author's login (GitHub or GitLab).", max_length=200),
        ),
        migrations.AlterField(
            model_name="pullrequest",
            name="person",
            field=models.ForeignKey(
                blank=True,
                help_text="Who the author is.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="pull_requests",
                to="e360.person",
            ),
        ),
        migrations.AlterField(
            model_name="pullrequest",
            name="deployment",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="linked_changes",
                to="metrics.deployment",
            ),
        ),
        migrations.RenameField("review", "author_login", "author"),
        migrations.AlterField(
            model_name="review",
            name="author",
            field=models.CharField(help_text="The reviewer's login.", max_length=200),
        ),
        migrations.RenameField("deployment", "sent_changes", "changes"),
        migrations.AlterField(
            model_name="deployment",
            name="changes",
            field=models.JSONField(blank=True, help_text="The change ids sent with the deployment.", null=True),
        ),
        migrations.AlterField(  # set by linking, like the deployment's
            model_name="incident",
            name="link_rule",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not linked"),
                    ("explicit", "Named by the incident (caused by / root cause)"),
                    ("window", "Latest production deployment before it started"),
                ],
                default="",
                editable=False,
                max_length=10,
            ),
        ),
        migrations.RenameIndex("push", new_name="push_repository_after", old_name="metrics_pus_reposit_95d2d8_idx"),
        migrations.RenameField("push", "before_sha", "before"),
        migrations.RenameField("push", "after_sha", "after"),
        migrations.RenameField("push", "commit_shas", "commits"),
        # The index follows its column's rename in the database; the state is told so here.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="push", name="push_repository_after"),
                migrations.AddIndex(
                    model_name="push", index=models.Index(fields=["repository", "after"], name="push_repository_after")
                ),
            ]
        ),
        migrations.AlterField(
            model_name="push",
            name="before",
            field=models.CharField(help_text="The branch's head before the push.", max_length=64),
        ),
        migrations.AlterField(
            model_name="push",
            name="after",
            field=models.CharField(help_text="The branch's head after the push.", max_length=64),
        ),
        migrations.AlterField(
            model_name="push",
            name="commits",
            field=models.JSONField(
                blank=True, default=list, help_text="The shas of the commits pushed, in push order."
            ),
        ),
    ]
