"""The actions app's forms (``RunIdsForm``: which runs' actions a page asks for)."""

from __future__ import annotations

from django import forms

from e360.forms import QueryField, QueryForm, whole_number

# A page of runs lists 25; more than this in one request is not a page's.
MAX_RUNS = 100


class IdsField(QueryField):
    """Repeated ids (``?run=1&run=2``): whole numbers, at most ``MAX_RUNS`` of them."""

    widget = forms.MultipleHiddenInput

    def read(self, value: list[str] | None) -> list[int]:  # type: ignore[override]  # a list, not one text
        values = value or []
        if len(values) > MAX_RUNS:
            raise forms.ValidationError(f"At most {MAX_RUNS} runs at a time.")
        ids = [whole_number(text) for text in values]
        if any(pk is None for pk in ids):
            raise forms.ValidationError("A run is named by its number.")
        return [pk for pk in ids if pk is not None]


class RunIdsForm(QueryForm):
    run = IdsField()
