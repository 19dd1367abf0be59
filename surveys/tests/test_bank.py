"""The shipped templates' required core questions, and the migration that marks them in templates loaded before."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from surveys import bank, services
from surveys.models import LIKERT_KINDS, Kind, Question, Template, TemplateQuestion
from surveys.tests.factories import campaign_for, members

migration = importlib.import_module("surveys.migrations.0008_required_core_questions")


@pytest.mark.parametrize("shipped", bank.TEMPLATES, ids=lambda t: t.slug)
def test_each_shipped_template_requires_one_item_per_dimension_and_the_enps(shipped):
    required = [q for q in shipped.questions if q.required]
    likert = [q for q in required if q.kind in LIKERT_KINDS]
    measured = {q.dimension for q in shipped.questions if q.kind in LIKERT_KINDS and q.dimension}
    assert sorted(q.dimension for q in likert) == sorted(measured)  # each dimension once
    enps = [q for q in shipped.questions if q.kind == Kind.ENPS]
    assert [q for q in required if q not in likert] == enps  # and nothing else: the rest may be skipped


def _as_before(slug: str) -> Template:
    """A shipped template as loaded before this change: no question required."""
    template = Template.objects.get(slug=slug)
    template.questions.update(required=False)
    return template


def _required(template: Template) -> set[str]:
    return set(template.questions.filter(required=True).values_list("key", flat=True))


def test_the_migration_marks_the_core_questions_of_unedited_shipped_templates(db, team):
    members(team, 3)
    pulse = _as_before("quarterly-pulse")
    campaign = campaign_for([team], template="quarterly-pulse")
    services.campaign_open(campaign_id=campaign.pk)  # a frozen version, none required
    edited_text = _as_before("developer-experience")
    edited_text.questions.filter(key="focus_deep_work").update(text="I get time to think.")
    made_required = _as_before("post-incident")
    made_required.questions.filter(key="incident_open").update(required=True)
    removed = _as_before("onboarding-week-1")
    removed.questions.filter(key="onboarding_docs").delete()
    untouched = _as_before("onboarding-month-1")

    migration.mark_core_questions_required(apps, None)

    shipped = {t.slug: {q.key for q in t.questions if q.required} for t in bank.TEMPLATES}
    assert _required(pulse) == shipped["quarterly-pulse"] and len(shipped["quarterly-pulse"]) == 6
    assert _required(untouched) == shipped["onboarding-month-1"]
    # What an admin edited stays as they made it.
    assert _required(edited_text) == set()
    assert _required(made_required) == {"incident_open"}
    assert _required(removed) == set()
    # A campaign keeps the questions it opened with.
    assert not Question.objects.filter(version__campaigns=campaign, required=True).exists()
    # Twice: nothing more changes.
    before = list(TemplateQuestion.objects.order_by("pk").values_list("pk", "required"))
    migration.mark_core_questions_required(apps, None)
    assert list(TemplateQuestion.objects.order_by("pk").values_list("pk", "required")) == before


def test_a_fresh_install_ships_the_core_questions_required(db):
    for shipped in bank.TEMPLATES:
        assert _required(Template.objects.get(slug=shipped.slug)) == {q.key for q in shipped.questions if q.required}
