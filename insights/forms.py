"""The GET parameters of the insights pages, one form per kind (``e360.forms.QueryForm``): the bottleneck and
correlation pages' period (and picked pair), and the dashboards' period, a preset or custom dates."""

from __future__ import annotations

from datetime import datetime

from django import forms

from e360.forms import QueryField, QueryForm, whole_number
from insights import selectors
from insights.services import pairs

DEFAULT_DAYS = 90
# Periods beyond ten years are not a question anyone asks of an hourly refresh; refuse them rather than guess.
MAX_DAYS = 3650


class DaysField(QueryField):
    """``days``: a whole number of days from 1 to ``MAX_DAYS`` (absent or empty: ``DEFAULT_DAYS``); a non-standard
    one is answered with the standard period covering it (``insights.selectors.standard_days``)."""

    def read(self, value: str | None) -> int:
        if not value:
            return DEFAULT_DAYS
        days = whole_number(value)
        if days is None or not 1 <= days <= MAX_DAYS:
            raise forms.ValidationError(f"days must be a whole number of days from 1 to {MAX_DAYS}.")
        return days


class InsightsForm(QueryForm):
    """The bottleneck pages: their period."""

    days = DaysField()


class CorrelationsForm(InsightsForm):
    """The correlation pages: their period, and the pair to chart (absent: the page picks one)."""

    pair = QueryField()

    def clean_pair(self) -> str | None:
        asked = self.cleaned_data["pair"]
        if asked is not None and asked not in {f"{dimension}--{spec.key}" for dimension, spec in pairs()}:
            message = "pair must be a dimension and a metric of the mapping, as the table links them."
            raise forms.ValidationError(message)
        return asked


class PeriodForm(QueryForm):
    """The dashboards' period: ``days``, one of ``selectors.PERIODS`` (anything else: the default), or a custom
    period ``from`` … ``to``; its ``period`` (``selectors.period``), or the message saying why it cannot be
    shown. The dashboards show that message in their own custom period form, so they read it with ``is_valid``
    and ``error`` rather than ``parse``."""

    days = QueryField()
    # The custom period's dates as typed: the form shows them back, right or wrong.
    start = QueryField()
    end = QueryField()

    def __init__(self, data, *, now: datetime) -> None:
        super().__init__(data)
        self.now = now

    def add_prefix(self, field_name: str) -> str:
        # ``from`` is a Python keyword: the fields are ``start`` and ``end``, the parameters ``from`` and ``to``.
        return {"start": "from", "end": "to"}.get(field_name, field_name)

    def clean(self) -> dict:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        try:
            cleaned["period"] = selectors.period(self.data, now=self.now)
        except selectors.PeriodError as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned

    @property
    def error(self) -> str:
        """Why the period cannot be shown (the form is invalid)."""
        return str(self.non_field_errors()[0])  # already a str: ErrorList gives an error's message
