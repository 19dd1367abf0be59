from __future__ import annotations

from django import forms

from e360.models import Service


class LinesField(forms.CharField):
    """A list of strings edited as one entry per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value) -> list[str]:  # type: ignore[override]  # lines, where CharField gives text
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class ServiceAdminForm(forms.ModelForm):
    repositories = LinesField(required=False, help_text=Service._meta.get_field("repositories").help_text)
    production_environments = LinesField(
        required=False, help_text=Service._meta.get_field("production_environments").help_text
    )

    class Meta:
        model = Service
        fields = [
            "name",
            "slug",
            "owner",
            "description",
            "tier",
            "lifecycle",
            "repositories",
            "production_environments",
        ]


# --- GET parameters -------------------------------------------------------------------------------------------------
# Every page reads its query string with a ``QueryForm``: one form per kind of parameter set, one way to refuse what
# a page does not offer (``BadQuery``, answered 400 by ``e360.htmx.refuses_bad_query``).

# Nine digits at most: Python refuses to read a number of thousands of digits (a 500, not a 400).
MAX_NUMBER_DIGITS = 9
# A text parameter that reaches a query is at most this long (a workflow name: PipelineRun.workflow).
MAX_FILTER_LENGTH = 200


class BadQuery(Exception):
    """A GET parameter the page does not offer; the message says what was wrong, in the page's words."""


def whole_number(value: str | None) -> int | None:
    """``value`` as a whole number written in ASCII digits (at most ``MAX_NUMBER_DIGITS``), else None."""
    if value and value.isascii() and value.isdigit() and len(value) <= MAX_NUMBER_DIGITS:
        return int(value)
    return None


class QueryField(forms.Field):
    """A GET parameter: ``read`` gets its raw text (None when absent) and returns its value, or raises
    ``ValidationError`` with the page's message. Never required: a page has a default for each parameter."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value: str | None):
        return self.read(value)

    def read(self, value: str | None):
        return value


class PageField(QueryField):
    """A page number from 1 (absent: 1)."""

    def read(self, value: str | None) -> int:
        if value is None:
            return 1
        number = whole_number(value)
        if number is None or number < 1:
            raise forms.ValidationError(f"Unknown page “{value[:20]}”: pages are numbered from 1.")
        return number


class LenientPageField(QueryField):
    """A list's page as the catalog and delivery lists read it: anything but a page number is the first page (the
    paginator then answers the last page for one past the end)."""

    def read(self, value: str | None) -> int:
        return whole_number(value) or 1


class FilterField(QueryField):
    """Text that reaches a query: at most ``MAX_FILTER_LENGTH`` characters and no NUL (which PostgreSQL refuses in
    a string, a 500 rather than a 400). Absent: empty. ``noun`` names it in the message."""

    def __init__(self, noun: str, *, strip: bool = False, **kwargs) -> None:
        self.noun, self.strip = noun, strip
        super().__init__(**kwargs)

    def read(self, value: str | None) -> str:
        value = value or ""
        if len(value) > MAX_FILTER_LENGTH or "\x00" in value:
            raise forms.ValidationError(f"A {self.noun} is at most {MAX_FILTER_LENGTH} characters, none of them NUL.")
        return value.strip() if self.strip else value


class QueryForm(forms.Form):
    """A page's GET parameters. ``parse`` returns them cleaned, or raises ``BadQuery`` with the first message."""

    @classmethod
    def parse(cls, query, **kwargs) -> dict:
        """``query`` is a request's ``GET``; ``kwargs`` go to the form (what its checks need to know)."""
        form = cls(query, **kwargs)
        if not form.is_valid():
            raise BadQuery(next(iter(form.errors.values()))[0])
        return form.cleaned_data


class CatalogSearchForm(QueryForm):
    """The catalog lists' search box, tier and page (services: all three; people: ``q`` and ``page``)."""

    q = FilterField("search", strip=True)
    tier = QueryField()
    page = LenientPageField()

    def clean_tier(self) -> int | None:
        """One of the tiers, else none (every tier)."""
        tier = self.cleaned_data["tier"]
        return int(tier) if tier in {str(value) for value in Service.Tier.values} else None


class TeamForm(QueryForm):
    """``team``: a team's slug, to show or pick (empty: none). Whether the viewer may see it is the view's check."""

    team = FilterField("team")
