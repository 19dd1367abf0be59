"""Source health pages: the sources a viewer may see (``/sources/``) and one source's health
(``/sources/<id>/``): last event, events today, failures with their error, ignored events by type, the
backfill's progress and what is missing.

Access through ``integrations.health`` (org viewers; the source team's members and leads; 404 to anyone
else). While a backfill runs, its card polls the page every few seconds with htmx (``hx-trigger="every
3s"``); the view answers that request with the card alone (the ``backfill`` partial), and the card of a
finished backfill carries no trigger, so the polling stops.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from e360.htmx import HtmxHttpRequest, htmx_page, partial_target
from integrations import health

LIST_TEMPLATE = "integrations/source_list.html"
DETAIL_TEMPLATE = "integrations/source_detail.html"
BACKFILL = "backfill"


@login_required
@htmx_page
def source_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, LIST_TEMPLATE, {"sources": health.source_rows(request.user)})


@login_required
@htmx_page
def source_detail(request: HtmxHttpRequest, source_id: int) -> HttpResponse:
    source = health.get_source_for_user(request.user, source_id)
    connection = health.connection_of(source)
    if partial_target(request) == BACKFILL:
        progress = health.backfill_progress(connection) if connection else None
        return render(request, f"{DETAIL_TEMPLATE}#{BACKFILL}", {"source": source, "progress": progress})
    found = health.source_health(source)
    context = {"source": source, "connection": connection, "health": found, "progress": found.backfill}
    return render(request, DETAIL_TEMPLATE, context)
