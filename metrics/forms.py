"""The GET parameters of the metrics pages, one form per page kind (``e360.forms.QueryForm``): what each page
offers, and the message that says what was wrong with anything else (answered 400 by ``e360.htmx``)."""

from __future__ import annotations

from django import forms

from e360.forms import FilterField, LenientPageField, PageField, QueryField, QueryForm
from e360.models import Team
from metrics import display
from metrics.models import PipelineRun
from metrics.selectors import Area, ReviewQueue


class DeliveryForm(QueryForm):
    """The delivery pages: ``days``, a period the picker offers (anything else: the default, as the dashboards
    read it), and each list's page (anything but a page number: the first)."""

    days = QueryField()
    deployments = LenientPageField()
    incidents = LenientPageField()
    changes = LenientPageField()

    def clean_days(self) -> int:
        return display.period_days(self.cleaned_data["days"])


class PeriodField(QueryField):
    """``days``: one of the periods the operational pages offer (absent: the default)."""

    def read(self, value: str | None) -> int:
        if value is None:
            return display.DEFAULT_PERIOD
        if value in {str(days) for days in display.PERIODS}:
            return int(value)
        choices = ", ".join(str(days) for days in display.PERIODS)
        raise forms.ValidationError(f"Unknown period “{value[:20]}”: choose {choices} days.")


class PipelinesForm(QueryForm):
    """The pipelines page: its period, the runs list's filters (a service of the page, a workflow, a status) and
    the list's page."""

    days = PeriodField()
    service = QueryField()
    workflow = FilterField("workflow")
    status = QueryField()
    page = PageField()

    def __init__(self, data, *, area: Area) -> None:
        super().__init__(data)
        self.area = area

    def clean_service(self):
        slug = self.cleaned_data["service"]
        if not slug:
            return None
        service = self.area.service_by_slug(slug)
        if service is None:
            raise forms.ValidationError(f"No service “{slug[:100]}” on this page.")
        return service

    def clean_status(self) -> str:
        status = self.cleaned_data["status"] or ""
        if status and status not in PipelineRun.Status.values:
            choices = ", ".join(PipelineRun.Status.values)
            raise forms.ValidationError(f"Unknown status “{status[:20]}”: choose one of {choices}.")
        return status


class ReviewsForm(QueryForm):
    """The review queue: the waiting list's page, its filters (a team owning a service of the page, even with
    nothing waiting; an age bucket of the queue), and ``teams=all`` for every row of the counts table."""

    page = PageField()
    team = FilterField("team")
    age = QueryField()
    teams = QueryField()

    def __init__(self, data, *, area: Area, queue: ReviewQueue) -> None:
        super().__init__(data)
        self.area, self.queue = area, queue

    def clean_team(self) -> Team | None:
        slug = self.cleaned_data["team"]
        if not slug:
            return None
        owners = {s.owner_id for s in self.area.services}
        team = Team.objects.filter(slug=slug, id__in=owners).only("id", "name", "slug").first()
        if team is None:
            raise forms.ValidationError(f"No team “{slug[:100]}” owns a service on this page.")
        return team

    def clean_age(self):
        key = self.cleaned_data["age"]
        if not key:
            return None
        bucket = self.queue.bucket(key)
        if bucket is None:
            keys = ", ".join(b.key for b in self.queue.buckets)
            raise forms.ValidationError(f"Unknown age “{key[:20]}”: choose one of {keys}.")
        return bucket

    def clean_teams(self) -> bool:
        """Whether every team's row is asked for."""
        value = self.cleaned_data["teams"]
        if value not in (None, "all"):
            raise forms.ValidationError(f"Unknown teams “{value[:20]}”: leave it out, or ask for all.")
        return value == "all"
