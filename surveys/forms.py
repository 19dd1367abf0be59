"""The survey form: one field per question of the campaign's frozen version.

The form also says how each question is rendered accessibly (``rows()``): the id an error
summary links to, the ids a question's hint and error carry (Django's ``<id>_helptext`` and
``<id>_error`` names, so a textarea gets ``aria-describedby`` from Django itself), and the
extra words screen readers hear on the ends of the eNPS scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms.boundfield import BoundField, BoundWidget
from django.views.decorators.debug import sensitive_variables

from surveys.models import MAX_TEXT_LENGTH, Kind, Question
from surveys.services import AnswerValue

AGREEMENT = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
FREQUENCY = ["Never", "Rarely", "Sometimes", "Often", "Always"]
ENPS_ENDS = {0: "not at all likely", 10: "extremely likely"}

REQUIRED_MESSAGE: dict[str, str] = {
    Kind.MULTI: "Choose at least one option: this question needs an answer.",
    Kind.TEXT: "Write an answer: this question needs one.",
}
REQUIRED_DEFAULT = "Choose an answer: this question needs one."
EMPTY_MESSAGE = "Answer at least one question: an empty form is not an answer. Nothing was sent."
INVALID_CHOICE = "Choose one of the answers listed."


def field_name(question: Question) -> str:
    return f"q{question.pk}"


class AnswerText(forms.CharField):
    """Free text whose line breaks count once, as the browser's ``maxlength`` counts them."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value


@dataclass(frozen=True)
class Choice:
    widget: BoundWidget
    end: str = ""  # the eNPS scale's meaning at 0 and 10, said beside the number


@dataclass(frozen=True)
class Row:
    """A question as the page renders it."""

    number: int
    question: Question
    field: BoundField

    @property
    def group_id(self) -> str:
        return f"{self.field.auto_id}_group"

    @property
    def input_id(self) -> str:
        """The first input: where a link from the error summary puts the focus."""
        if self.question.kind == Kind.TEXT:
            return self.field.auto_id
        return f"{self.field.auto_id}_0"

    @property
    def hint_id(self) -> str:
        return f"{self.field.auto_id}_helptext"

    @property
    def error_id(self) -> str:
        return f"{self.field.auto_id}_error"

    @property
    def described_by(self) -> str:
        """For a fieldset of radios or checkboxes; a textarea gets its own from Django."""
        ids = [self.hint_id] if self.field.help_text else []
        if self.field.errors:
            ids.append(self.error_id)
        return " ".join(ids)

    @property
    def choices(self) -> list[Choice]:
        if self.question.kind == Kind.ENPS:
            return [Choice(widget, ENPS_ENDS.get(index, "")) for index, widget in enumerate(self.field)]
        return [Choice(widget) for widget in self.field]


class AnswerForm(forms.Form):
    """Every question of the version, in order; a question not marked required may be skipped, but not all of them:
    a form with no answer at all is refused (``EMPTY_MESSAGE``)."""

    def __init__(self, questions: Iterable[Question], *args, text_threshold: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            self.fields[field_name(question)] = _field(question, text_threshold)

    def clean(self) -> dict:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        # Without a required question, an empty form would pass: thank the person and count them as answered.
        if not self.errors and not self.answers():
            raise forms.ValidationError(EMPTY_MESSAGE, code="empty")
        return cleaned

    def rows(self) -> list[Row]:
        return [Row(number, question, self[field_name(question)]) for number, question in enumerate(self.questions, 1)]

    def error_rows(self) -> list[Row]:
        return [row for row in self.rows() if row.field.errors]

    @sensitive_variables("value")
    def answers(self) -> dict[int, AnswerValue]:
        """The cleaned answers by question id; skipped questions are left out."""
        answers: dict[int, AnswerValue] = {}
        for question in self.questions:
            value = self.cleaned_data.get(field_name(question))
            if value in (None, "", []):
                continue
            if question.kind == Kind.MULTI:
                # Each option once, in the question's order: a repeated one must not count twice.
                answers[question.pk] = AnswerValue(choices=tuple(o for o in question.options if o in value))
            elif question.kind == Kind.SINGLE:
                answers[question.pk] = AnswerValue(choices=(value,))
            elif question.kind == Kind.TEXT:
                answers[question.pk] = AnswerValue(text=value)
            else:
                answers[question.pk] = AnswerValue(number=int(value))
        return answers


def _field(question: Question, text_threshold: int | None) -> forms.Field:
    messages = {
        "required": REQUIRED_MESSAGE.get(question.kind, REQUIRED_DEFAULT),
        "invalid_choice": INVALID_CHOICE,
        "invalid_list": INVALID_CHOICE,
    }
    common: dict[str, Any] = {"label": question.text, "required": question.required}
    if question.kind in (Kind.AGREEMENT, Kind.FREQUENCY):
        labels = AGREEMENT if question.kind == Kind.AGREEMENT else FREQUENCY
        choices = [(str(n), label) for n, label in enumerate(labels, start=1)]
        return forms.TypedChoiceField(
            choices=choices,
            coerce=int,
            widget=forms.RadioSelect,
            empty_value=None,
            error_messages=messages,
            **common,
        )
    if question.kind == Kind.ENPS:
        return forms.TypedChoiceField(
            choices=[(str(n), str(n)) for n in range(11)],
            coerce=int,
            widget=forms.RadioSelect,
            empty_value=None,
            error_messages=messages,
            help_text="0 means not at all likely, 10 extremely likely.",
            **common,
        )
    if question.kind == Kind.SINGLE:
        return forms.ChoiceField(
            choices=[(o, o) for o in question.options], widget=forms.RadioSelect, error_messages=messages, **common
        )
    if question.kind == Kind.MULTI:
        return forms.MultipleChoiceField(
            choices=[(o, o) for o in question.options],
            widget=forms.CheckboxSelectMultiple,
            error_messages=messages,
            help_text="Choose all that apply.",
            **common,
        )
    hint = f"Up to {MAX_TEXT_LENGTH:,} characters."
    if text_threshold is not None:
        hint += f" Written answers are shown only where at least {text_threshold} people answered, never with a time."
    return AnswerText(
        max_length=MAX_TEXT_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages=messages
        | {"max_length": f"Keep the answer within {MAX_TEXT_LENGTH:,} characters (it has %(show_value)s)."},
        help_text=hint,
        **common,
    )
