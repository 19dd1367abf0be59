"""The organisation's velocity gains over a quarter (``actions.gains``): the initiatives the user may see that ran
in it, grouped by what delivered, with hours saved, points of sentiment and the review reminders' holdout; its CSV
export (``?format=csv`` or ``export.csv``) and print stylesheet."""

from __future__ import annotations

import csv
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from actions import gains as gains_module
from actions import thresholds
from actions.forms import GainsForm
from e360.htmx import HtmxHttpRequest, htmx_page

# The picker offers the current quarter and the seven before it (any other is asked for by ``?quarter=``).
QUARTERS_OFFERED = 8


def _csv(found: gains_module.Gains) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="velocity-gains-{found.quarter.key}.csv"'
    writer = csv.writer(response)
    writer.writerow(gains_module.HEADER)
    writer.writerows(gains_module.csv_rows(found))
    return response


def _read(request: HtmxHttpRequest, now: datetime) -> tuple[gains_module.Gains, str]:
    asked = GainsForm.parse(request.GET, default=gains_module.quarter_of(now))
    return gains_module.gains(request.user, asked["quarter"], now=now), asked["format"]


@login_required
@htmx_page
def gains(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    found, asked_format = _read(request, now)
    if asked_format == "csv":
        return _csv(found)
    managed = thresholds.managed_team_ids(request.user)
    current = gains_module.quarter_of(now)
    quarters = [current]
    while len(quarters) < QUARTERS_OFFERED:
        quarters.append(quarters[-1].previous)
    if found.quarter not in quarters:
        quarters.append(found.quarter)
    delivered_hours = found.delivered_hours
    context = {
        "gains": found,
        "quarter": found.quarter,
        "quarters": sorted(quarters, reverse=True),
        "groups": [
            ("Delivered", found.delivered, "delivered"),
            ("Did not deliver", found.not_delivered, "not-delivered"),
            ("Too early or too little data", found.too_early, "too-early"),
        ],
        "delivered_hours_text": None if delivered_hours is None else gains_module.hours_text(delivered_hours),
        "may_add": managed is None or bool(managed),
    }
    return render(request, "actions/gains.html", context)


@login_required
@htmx_page
def gains_csv(request: HtmxHttpRequest) -> HttpResponse:
    found, _ = _read(request, timezone.now())
    return _csv(found)
