"""The survey form: one field per question of the campaign's frozen version."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms

from surveys.models import MAX_TEXT_LENGTH, Kind, Question
from surveys.services import AnswerValue

AGREEMENT = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
FREQUENCY = ["Never", "Rarely", "Sometimes", "Often", "Always"]


def field_name(question: Question) -> str:
    return f"q{question.pk}"


class AnswerForm(forms.Form):
    """Every question of the version, in order; a question not marked required may be skipped."""

    def __init__(self, questions: Iterable[Question], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            self.fields[field_name(question)] = _field(question)

    def rows(self) -> list[tuple[Question, forms.BoundField]]:
        return [(question, self[field_name(question)]) for question in self.questions]

    def answers(self) -> dict[int, AnswerValue]:
        """The cleaned answers by question id; skipped questions are left out."""
        answers: dict[int, AnswerValue] = {}
        for question in self.questions:
            value = self.cleaned_data.get(field_name(question))
            if value in (None, "", []):
                continue
            if question.kind == Kind.MULTI:
                answers[question.pk] = AnswerValue(choices=tuple(value))
            elif question.kind == Kind.SINGLE:
                answers[question.pk] = AnswerValue(choices=(value,))
            elif question.kind == Kind.TEXT:
                answers[question.pk] = AnswerValue(text=value)
            else:
                answers[question.pk] = AnswerValue(number=int(value))
        return answers


def _field(question: Question) -> forms.Field:
    common = {"label": question.text, "required": question.required}
    if question.kind in (Kind.AGREEMENT, Kind.FREQUENCY):
        labels = AGREEMENT if question.kind == Kind.AGREEMENT else FREQUENCY
        choices = [(str(n), label) for n, label in enumerate(labels, start=1)]
        return forms.TypedChoiceField(choices=choices, coerce=int, widget=forms.RadioSelect, empty_value=None, **common)
    if question.kind == Kind.ENPS:
        choices = [(str(n), str(n)) for n in range(11)]
        return forms.TypedChoiceField(choices=choices, coerce=int, widget=forms.RadioSelect, empty_value=None, **common)
    if question.kind == Kind.SINGLE:
        return forms.ChoiceField(choices=[(o, o) for o in question.options], widget=forms.RadioSelect, **common)
    if question.kind == Kind.MULTI:
        return forms.MultipleChoiceField(
            choices=[(o, o) for o in question.options], widget=forms.CheckboxSelectMultiple, **common
        )
    return forms.CharField(max_length=MAX_TEXT_LENGTH, strip=True, widget=forms.Textarea(attrs={"rows": 4}), **common)
