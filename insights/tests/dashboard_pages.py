"""The leader dashboards' pages for tests: their addresses, readers of what they show (text, sections, tiles),
the number of queries the organisation's runs, and fixtures of an org viewer (``olga``) and of services
delivering into the survey results tests' organisation (``services``, ``delivered``, at ``now``)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from e360.tests.factories import ServiceFactory
from metrics.refresh import service_refresh
from metrics.tests import histories
from metrics.tests.factories import SourceFactory
from surveys.tests.waves import org_viewer


def org_url(**query) -> str:
    return _with(reverse("insights:dashboard"), query)


def team_url(slug: str = "pay", **query) -> str:
    return _with(reverse("insights:team-dashboard", args=[slug]), query)


def _with(url: str, query: dict) -> str:
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def delivery_url(slug: str, **query) -> str:
    return _with(reverse("metrics:team-delivery", args=[slug]), query)


_INLINE_TAG = re.compile(r"</?(span|strong|a|time|code)\b[^>]*>")


def plain(html: str) -> str:
    """Text with tags dropped (inline ones without a gap) and whitespace collapsed."""
    html = re.sub(r"<(script|template)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", _INLINE_TAG.sub("", html))
    return re.sub(r"\s+", " ", unescape(text)).strip()


def text(response) -> str:
    return plain(response.content.decode())


def section(response, title_id: str) -> str:
    """The plain text of the <section> labelled by ``title_id``."""
    body = response.content.decode()
    match = re.search(rf'<section[^>]*aria-labelledby="{title_id}".*?</section>', body, re.S)
    assert match, f"no section {title_id}"
    return plain(match.group(0))


TILE_KEYS = ("frequency", "lead-time", "failure-rate", "recovery", "rework")


def tile_parts(response, key: str) -> dict[str, str]:
    """A tile's value, level, change, detail and sample, each as text."""
    match = re.search(rf'<article class="card tile tile--{key}".*?</article>', response.content.decode(), re.S)
    assert match, f"no {key} tile"
    parts = re.findall(
        r'<p class="(tile__value|tile__level|delta|tile__detail|tile__sample)[^"]*">(.*?)</p>', match.group(0), re.S
    )
    return {name: plain(html) for name, html in parts}


@pytest.fixture
def now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def olga(db):
    """An org viewer, in no team."""
    return org_viewer()


@pytest.fixture
def services(org):
    return {
        "checkout": ServiceFactory(name="Checkout", slug="checkout", owner=org.pay),
        "ledger": ServiceFactory(name="Ledger", slug="ledger", owner=org.api),
        "finder": ServiceFactory(name="Finder", slug="finder", owner=org.search),
    }


@pytest.fixture
def delivered(services, now):
    """Checkout: three production deployments in the last 30 days, the second failed (an incident two
    hours later, restored in three), one 120 days ago; two changes shipped. Ledger: one deployment.
    Finder: two deployments 40 days ago."""
    source = SourceFactory(name="ci", may_write_every_service=True, last_event_at=now - timedelta(hours=3))
    checkout, ledger, finder = services["checkout"], services["ledger"], services["finder"]
    histories.pull_request(source, checkout, "pr-1", now - timedelta(days=20.5), number=101, title="Add Apple Pay")
    histories.pull_request(source, checkout, "pr-2", now - timedelta(days=10.5), number=102, title="Retry declines")
    histories.deploy(source, checkout, "old", now - timedelta(days=120))
    histories.deploy(source, checkout, "d1", now - timedelta(days=20), sha="a1" * 20, changes=("pr-1",))
    histories.deploy(source, checkout, "d2", now - timedelta(days=10), sha="b2" * 20, changes=("pr-2",))
    histories.deploy(source, checkout, "d3", now - timedelta(days=5), sha="c3" * 20)
    histories.incident(
        source, checkout, "INC-1", now - timedelta(days=10) + timedelta(hours=2), now - timedelta(days=10, hours=-5)
    )
    histories.deploy(source, ledger, "l1", now - timedelta(days=3))
    histories.deploy(source, finder, "f1", now - timedelta(days=40))
    histories.deploy(source, finder, "f2", now - timedelta(days=41))
    for service in services.values():
        service_refresh(service_id=service.id)
    return source


# The org dashboard's queries (counted in test_dashboard_views.TestQueries, a second request):
# Sign-in (session, user), permissions (user's, groups'): 4; the team tree, read once for the picker and the roots
# (``TeamTree.for_user``): 1.
# Delivery: the rollups' version of the roots, then the figures computed for it (``org_delivery``: on a first
# request, day rows (2 a period), week rows (1 a period), failed deployments unrecovered, the review queue (2) and the
# sources' last events: 10 more; none on the next ones) and the sources' last events, read on every request: 2.
# Sentiment (``insights.selectors.sentiment``): closed campaigns, the latest (access is read from its tree
# frozen at close), its questions, group scores: 4 (each newer campaign the viewer may not see adds its
# access check). Bottlenecks: the period's stored results, the leaf teams' names now: 2; and on a stored result's
# first request in a process, its org ranking and grid of leaf teams' labels (``stored._org_results``): 1 more.
ORG_QUERIES = 13
