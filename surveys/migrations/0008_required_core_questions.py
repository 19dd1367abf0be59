"""The shipped templates' core questions become required (issue 14: an empty survey is not an answer).

Only a shipped template still as it was shipped is changed: its questions match the bank's (``surveys.bank``) in
every field but ``required``, and none is required yet. A template an admin edited is left as they made it, and
frozen versions (``Question``) are never touched: a campaign keeps the questions it opened with.
"""

from __future__ import annotations

from django.db import migrations

COMPARED = ("position", "key", "text", "kind", "dimension", "reverse_coded", "options")


def mark_core_questions_required(apps, schema_editor) -> None:
    from surveys import bank

    Template = apps.get_model("surveys", "Template")
    TemplateQuestion = apps.get_model("surveys", "TemplateQuestion")
    for shipped in bank.TEMPLATES:
        template = Template.objects.filter(slug=shipped.slug).first()
        if template is None:
            continue
        questions = list(TemplateQuestion.objects.filter(template=template).order_by("position", "pk"))
        expected = [
            {**{name: getattr(q, name) for name in COMPARED[1:]}, "position": n, "options": list(q.options)}
            for n, q in enumerate(shipped.questions, start=1)
        ]
        found = [{name: getattr(q, name) for name in COMPARED} for q in questions]
        if found != expected or any(q.required for q in questions):
            continue  # edited by an admin (or already required): theirs to decide
        required = {q.key for q in shipped.questions if q.required}
        TemplateQuestion.objects.filter(template=template, key__in=required).update(required=True)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0007_frozen_publication")]

    operations = [migrations.RunPython(mark_core_questions_required, migrations.RunPython.noop)]
