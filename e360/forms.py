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

    def to_python(self, value) -> list[str]:
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
