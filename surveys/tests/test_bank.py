"""The shipped templates' required core questions."""

from __future__ import annotations

import pytest

from surveys import bank
from surveys.models import LIKERT_KINDS, Kind, Template


@pytest.mark.parametrize("shipped", bank.TEMPLATES, ids=lambda t: t.slug)
def test_each_shipped_template_requires_one_item_per_dimension_and_the_enps(shipped):
    required = [q for q in shipped.questions if q.required]
    likert = [q for q in required if q.kind in LIKERT_KINDS]
    measured = {q.dimension for q in shipped.questions if q.kind in LIKERT_KINDS and q.dimension}
    assert sorted(q.dimension for q in likert) == sorted(measured)  # each dimension once
    enps = [q for q in shipped.questions if q.kind == Kind.ENPS]
    assert [q for q in required if q not in likert] == enps  # and nothing else: the rest may be skipped


def _required(template: Template) -> set[str]:
    return set(template.questions.filter(required=True).values_list("key", flat=True))


def test_a_fresh_install_ships_the_core_questions_required(db):
    for shipped in bank.TEMPLATES:
        assert _required(Template.objects.get(slug=shipped.slug)) == {q.key for q in shipped.questions if q.required}
