"""The review queue pages of a service, a team and the organisation: pull requests waiting for a
first review, counted per team and waiting-time bucket and listed oldest first; htmx fragments,
bad input, access and query counts. Also the pure bucket rules (``definitions.review_queue``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from e360.tests.factories import ServiceFactory, TeamFactory
from metrics import definitions as d
from metrics.definitions.review_queue import age_buckets, bucket_of
from metrics.models import PullRequest
from metrics.tests.factories import PullRequestFactory, SourceFactory
from metrics.views import operations as operations_views

H = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def _htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


def _get(client, user, url, **headers):
    client.force_login(user)
    return client.get(url, headers=headers)


def _plain(html: str) -> str:
    html = re.sub(r"<script[^>]*>.*?</script>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", unescape(text)).strip()


def _section(response, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', response.content.decode(), re.S)
    assert match, f"no #{section_id}"
    return match.group(0)


def _counts(response) -> dict[str, list[str]]:
    """The team × bucket table: each row's header and cells, as text."""
    table = re.search(r'<table class="table table--compact ops__counts">.*?</table>', response.content.decode(), re.S)
    assert table
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0), re.S)[1:]:
        cells = [_plain(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def _chart(response) -> dict:
    match = re.search(r'<script id="review-ages" type="application/json">(.*?)</script>', response.content.decode())
    assert match
    return json.loads(match.group(1))


def team_url(slug="payments", **query) -> str:
    return _with(reverse("metrics:team-reviews", args=[slug]), query)


def service_url(slug="checkout", **query) -> str:
    return _with(reverse("metrics:service-reviews", args=[slug]), query)


def org_url(**query) -> str:
    return _with(reverse("metrics:reviews"), query)


def _with(url: str, query: dict) -> str:
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def now():
    return timezone.now()


class Queue:
    """Pull requests opened some time ago; the view's clock runs a few seconds later, so each
    age sits on a bucket's lower bound (included) or a minute below its upper bound."""

    def __init__(self, now):
        self.now = now
        self.source = SourceFactory(name="github")

    def pr(self, service, age: timedelta, number: int, **extra) -> PullRequest:
        return PullRequestFactory(
            source=self.source,
            service=service,
            number=number,
            title=extra.pop("title", f"Change {number}"),
            url=f"https://github.com/acme/{service.slug}/pull/{number}",
            opened_at=self.now - age,
            **extra,
        )


@pytest.fixture
def queue(now, service, ledger, search):
    """Checkout (Payments): 1 h, 4 h − 1 min (both under 4 h), 4 h (4–24 h), 24 h (late: 1–3 days),
    3 days and 10 days (3 days or more). Ledger (Payments API): 2 days and 5 days. Search (another
    team): 6 h. Not waiting: reviewed, merged, closed, a direct push."""
    q = Queue(now)
    q.pr(service, H, 1)
    q.pr(service, 4 * H - MINUTE, 2)
    q.pr(service, 4 * H, 3)
    q.pr(service, DAY, 4, title="Exactly a day")
    q.pr(service, 3 * DAY, 5)
    q.pr(service, 10 * DAY, 6, title="Forgotten refactor")
    q.pr(ledger, 2 * DAY, 7)
    q.pr(ledger, 5 * DAY, 8, title="Ledger export")
    q.pr(search, 6 * H, 9)
    q.pr(service, 9 * DAY, 10, first_review_at=now - 8 * DAY)
    q.pr(service, 9 * DAY, 11, merged_at=now - 8 * DAY)
    q.pr(service, 9 * DAY, 12, closed_at=now - 8 * DAY)
    q.pr(service, 9 * DAY, 13, is_direct_push=True)
    return q


class TestAgeBuckets:
    def test_the_default_buckets_cut_at_4_hours_the_review_wait_and_3_days(self):
        buckets = age_buckets(timedelta(hours=24))
        assert [b.label for b in buckets] == ["under 4 h", "4–24 h", "1–3 days", "3 days or more"]
        assert [b.key for b in buckets] == ["0-4h", "4h-24h", "24h-72h", "72h-"]
        assert [b.late for b in buckets] == [False, False, True, True]

    def test_a_bucket_holds_its_lower_bound_and_not_its_upper_one(self):
        buckets = age_buckets(timedelta(hours=24))
        assert bucket_of(4 * H - timedelta(seconds=1), buckets).key == "0-4h"
        assert bucket_of(4 * H, buckets).key == "4h-24h"
        assert bucket_of(DAY, buckets).key == "24h-72h"
        assert bucket_of(3 * DAY, buckets).key == "72h-"
        assert bucket_of(400 * DAY, buckets).key == "72h-"
        # An opening time after now (clocks lie) waits less than anything.
        assert bucket_of(-H, buckets).key == "0-4h"

    def test_another_review_wait_moves_the_late_line(self):
        buckets = age_buckets(timedelta(hours=48))
        assert [b.label for b in buckets] == ["under 4 h", "4–48 h", "2–3 days", "3 days or more"]
        assert [b.late for b in buckets] == [False, False, True, True]
        buckets = age_buckets(timedelta(hours=2))
        assert [b.label for b in buckets] == ["under 2 h", "2–4 h", "4–72 h", "3 days or more"]
        assert [b.late for b in buckets] == [False, True, True, True]

    def test_the_late_buckets_hold_exactly_what_waiting_for_review_lists(self, now):
        ages = [timedelta(minutes=m) for m in (0, 30, 239, 240, 1439, 1440, 1441, 4319, 4320, 9000)]
        changes = [
            d.ChangeRec(
                id=str(n), service="s", repository="r", merge_sha=None, first_commit_at=None, opened_at=now - age
            )
            for n, age in enumerate(ages)
        ]
        buckets = age_buckets(d.Profile().review_wait)
        late = {c.id for c, age in zip(changes, ages, strict=True) if bucket_of(age, buckets).late}
        assert late == set(d.waiting_for_review(changes, now))

    def test_a_review_wait_of_nothing_is_refused(self):
        with pytest.raises(ValueError, match="review_wait must be positive"):
            age_buckets(timedelta(0))


class TestTeamPage:
    def test_it_counts_each_team_s_waiting_pull_requests_by_age(self, client, owner, queue):
        response = _get(client, owner, team_url())
        assert response.status_code == 200
        counts = _counts(response)
        # Columns: under 4 h, 4–24 h, 1–3 days, 3 days or more, all. Most late first.
        assert list(counts) == ["Payments", "Payments API", "All teams"]
        assert counts["Payments"] == ["2", "1", "1", "2", "6"]
        assert counts["Payments API"] == ["0", "0", "1", "1", "2"]
        assert counts["All teams"] == ["2", "1", "2", "3", "8"]
        text = _plain(response.content.decode())
        assert "8 open pull requests waiting for a first review; 5 of them for longer than 24 h." in text
        assert "Search" not in text  # another team's

    def test_the_late_total_is_the_queue_the_delivery_figures_count(self, client, owner, queue, service, ledger):
        response = _get(client, owner, team_url())
        counted = PullRequest.objects.filter(service__in=[service, ledger]).waiting_for_review_count(
            timezone.now(), d.Profile().review_wait
        )
        assert counted == 5
        assert "5 of them for longer than 24 h" in _plain(response.content.decode())

    def test_it_lists_the_waiting_pull_requests_oldest_first_with_their_links(self, client, owner, queue):
        section = _section(_get(client, owner, team_url()), "waiting")
        numbers = [int(n) for n in re.findall(r'href="https://github.com/acme/[a-z-]+/pull/(\d+)"', section)]
        assert numbers == [6, 8, 5, 7, 4, 3, 2, 1]
        assert '<a href="https://github.com/acme/checkout/pull/6">#6 Forgotten refactor</a>' in section
        text = _plain(section)
        assert "10 days late" in text and "Payments API" in text and "Ledger" in text
        assert "1 h #1" in text  # the youngest, not late

    def test_the_chart_data_are_the_bucket_totals(self, client, owner, queue):
        response = _get(client, owner, team_url())
        assert _chart(response) == {
            "labels": ["under 4 h", "4–24 h", "1–3 days", "3 days or more"],
            "counts": [2, 1, 2, 3],
            "late": [False, False, True, True],
        }
        body = response.content.decode()
        assert 'role="img"' in body
        assert "under 4 h: 2; 4–24 h: 1; 1–3 days: 2 (late); 3 days or more: 3 (late)" in body
        assert b"metrics/operations.js" in response.content
        assert not re.search(rb"<script(?![^>]*(src=|application/json))", response.content)
        assert not re.search(rb"\sstyle=", response.content)

    def test_a_cell_lists_that_team_s_pull_requests_of_that_age(self, client, owner, queue):
        response = _get(client, owner, team_url(team="payments", age="72h-"))
        assert 'href="?team=payments&amp;age=72h-"' in response.content.decode()
        section = _section(response, "waiting")
        assert re.findall(r"/pull/(\d+)\"", section) == ["6", "5"]
        assert "team Payments; waiting 3 days or more" in _plain(section)
        # The counts stay whole.
        assert _counts(response)["All teams"][-1] == "8"

    def test_a_long_table_shows_the_most_late_teams_and_offers_them_all(self, client, owner, queue, monkeypatch):
        monkeypatch.setattr(operations_views, "TEAM_ROWS", 1)
        response = _get(client, owner, team_url())
        assert list(_counts(response)) == ["Payments", "All teams"]
        assert _counts(response)["All teams"][-1] == "8"  # the totals still count every team
        body = response.content.decode()
        assert "The 1 teams with the most late pull requests, of 2." in _plain(body)
        assert 'href="?teams=all" hx-get="?teams=all" hx-target="#review-queue"' in body
        assert list(_counts(_get(client, owner, team_url(teams="all")))) == ["Payments", "Payments API", "All teams"]
        # A team picked from further down keeps its row.
        assert list(_counts(_get(client, owner, team_url(team="payments-api")))) == [
            "Payments",
            "Payments API",
            "All teams",
        ]

    def test_a_sub_team_with_nothing_waiting_lists_nothing(self, client, owner, queue, subteam):
        response = _get(client, owner, team_url(team="payments-api", age="0-4h"))
        assert response.status_code == 200
        assert "No pull request is waiting for a first review with these filters." in _plain(
            _section(response, "waiting")
        )

    def test_a_member_who_cannot_see_the_sub_team_gets_the_team_alone(self, client, teammate, queue):
        response = _get(client, teammate, team_url())
        assert response.status_code == 200
        assert list(_counts(response)) == ["Payments"]
        assert "Ledger" not in response.content.decode()

    def test_it_paginates_oldest_first(self, client, owner, service, now):
        q = Queue(now)
        for n in range(30):
            q.pr(service, (40 - n) * H, 100 + n)
        first = _get(client, owner, team_url())
        section = _section(first, "waiting")
        assert "Page 1 of 2 · 30 in all" in _plain(section)
        assert re.findall(r"/pull/(\d+)\"", section)[:2] == ["100", "101"]
        assert 'href="?page=2" hx-get="?page=2" hx-target="#waiting"' in section

        fragment = _get(client, owner, team_url(page=2), **_htmx("waiting"))
        body = fragment.content.decode()
        assert body.lstrip().startswith('<section id="waiting"')
        assert "<html" not in body and "review-ages" not in body
        assert re.findall(r"/pull/(\d+)\"", body) == [str(n) for n in range(125, 130)]

    def test_the_filters_swap_the_content_and_push_the_url(self, client, owner, queue):
        body = _get(client, owner, team_url()).content.decode()
        assert (
            'href="?team=payments&amp;age=0-4h" hx-get="?team=payments&amp;age=0-4h" hx-target="#review-queue" '
            'hx-swap="outerHTML" hx-push-url="true"'
        ) in body
        response = _get(client, owner, team_url(age="24h-72h"), **_htmx("review-queue"))
        body = response.content.decode()
        assert body.lstrip().startswith('<div id="review-queue"')
        assert "<html" not in body and "breadcrumbs" not in body
        assert 'id="review-ages"' in body
        assert re.findall(r"/pull/(\d+)\"", _section(response, "waiting")) == ["7", "4"]
        assert "HX-Request" in response["Vary"]

    def test_the_whole_page_answers_the_same_url_without_htmx(self, client, owner, queue):
        response = _get(client, owner, team_url(age="24h-72h"))
        body = response.content.decode()
        assert "<html" in body and "breadcrumbs" in body
        assert re.findall(r"/pull/(\d+)\"", _section(response, "waiting")) == ["7", "4"]
        assert "HX-Request" in response["Vary"]

    def test_an_empty_team_says_so(self, client, owner, team):
        response = _get(client, owner, team_url())
        assert response.status_code == 200
        text = _plain(response.content.decode())
        assert "own no services" in text
        assert "No open pull request is waiting for a first review." in text
        assert "no data: nothing is waiting" in text

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"page": "x"}, "Unknown page"),
            ({"page": "0"}, "Unknown page"),
            ({"page": "²"}, "Unknown page"),
            ({"page": "9" * 5000}, "Unknown page"),
            ({"age": "forever"}, "Unknown age"),
            ({"team": "nobody"}, "No team"),
            ({"team": "search"}, "No team"),  # exists, but owns nothing on this page
            ({"teams": "some"}, "Unknown teams"),
            ({"team": "pay%00ments"}, "none of them NUL"),
        ],
    )
    def test_bad_input_answers_400_with_what_was_wrong(self, client, owner, queue, query, message):
        response = _get(client, owner, team_url(**query))
        assert response.status_code == 400
        assert message in response.content.decode()

    def test_a_page_past_the_end_is_404(self, client, owner, queue):
        assert _get(client, owner, team_url(page=2)).status_code == 404
        assert _get(client, owner, team_url(page=1)).status_code == 200

    def test_an_outsider_gets_404(self, client, outsider, queue):
        assert _get(client, outsider, team_url()).status_code == 404
        assert _get(client, outsider, team_url("payments-api"), **_htmx("waiting")).status_code == 404
        assert _get(client, outsider, team_url("no-such-team")).status_code == 404

    def test_it_requires_sign_in_and_get(self, client, owner, team):
        response = client.get(team_url())
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        client.force_login(owner)
        assert client.post(team_url()).status_code == 405

    def test_it_runs_a_bounded_number_of_queries(
        self, client, owner, team, service, ledger, now, django_assert_num_queries, django_assert_max_num_queries
    ):
        q = Queue(now)
        q.pr(service, 2 * DAY, 1)
        client.force_login(owner)
        # Sign-in and access (session, user, permissions, memberships, team tree): 6; the team tree and
        # services of the scope: 2; the counts, the teams' names, the page of pull requests: 3.
        with django_assert_max_num_queries(12) as few:
            client.get(team_url())

        # Many more pull requests, services and sub-teams: not one query more.
        for n in range(8):
            sub = TeamFactory(name=f"Squad {n}", slug=f"squad-{n}", parent=team)
            extra = ServiceFactory(name=f"Service {n}", slug=f"service-{n}", owner=sub)
            for m in range(4):
                q.pr(extra, (m + 1) * 10 * H, 100 + 10 * n + m)
                q.pr(ledger, (m + 1) * 20 * H, 500 + 10 * n + m)
        with django_assert_num_queries(len(few.captured_queries)):
            response = client.get(team_url())
        assert _counts(response)["All teams"][-1] == "65"


class TestServicePage:
    def test_it_shows_the_service_s_queue(self, client, teammate, queue):
        response = _get(client, teammate, service_url())
        assert response.status_code == 200
        assert _counts(response) == {"Payments": ["2", "1", "1", "2", "6"]}
        section = _section(response, "waiting")
        assert re.findall(r"/pull/(\d+)\"", section) == ["6", "5", "4", "3", "2", "1"]
        assert '<th scope="col">Team</th>' not in section  # one service: no team or service column

    def test_an_outsider_gets_404(self, client, outsider, queue):
        assert _get(client, outsider, service_url()).status_code == 404
        assert _get(client, outsider, service_url("ledger"), **_htmx("review-queue")).status_code == 404


class TestOrganisationPage:
    def test_an_org_viewer_sees_every_team(self, client, org_viewer, queue):
        response = _get(client, org_viewer, org_url())
        assert response.status_code == 200
        counts = _counts(response)
        assert list(counts) == ["Payments", "Payments API", "Search", "All teams"]
        assert counts["Search"] == ["0", "1", "0", "0", "1"]
        assert counts["All teams"][-1] == "9"
        assert "Every team's pull requests: 3 services." in _plain(response.content.decode())

    def test_it_filters_by_any_team(self, client, org_viewer, queue):
        response = _get(client, org_viewer, org_url(team="search"))
        assert re.findall(r"/pull/(\d+)\"", _section(response, "waiting")) == ["9"]

    def test_leads_members_and_outsiders_get_404(self, client, owner, teammate, outsider, queue):
        for user in (owner, teammate, outsider):
            assert _get(client, user, org_url()).status_code == 404
            assert _get(client, user, org_url(), **_htmx("waiting")).status_code == 404

    def test_it_runs_a_bounded_number_of_queries(
        self, client, org_viewer, queue, now, django_assert_num_queries, django_assert_max_num_queries
    ):
        client.force_login(org_viewer)
        with django_assert_max_num_queries(10) as few:
            client.get(org_url())
        q = Queue(now)
        for n in range(6):
            team = TeamFactory(name=f"Team {n}", slug=f"team-{n}")
            extra = ServiceFactory(name=f"Service {n}", slug=f"service-{n}", owner=team)
            for m in range(3):
                q.pr(extra, (m + 1) * 30 * H, 100 + 10 * n + m)
        with django_assert_num_queries(len(few.captured_queries)):
            response = client.get(org_url())
        assert _counts(response)["All teams"][-1] == "27"


@pytest.mark.django_db
def test_the_queue_at_many_moments_is_read_in_two_queries_and_counts_as_one_at_a_time(django_assert_num_queries):
    """``waiting_for_review_counts`` (a threshold's backtest) equals ``waiting_for_review_count`` at each moment."""
    start = datetime(2025, 5, 1, tzinfo=UTC)
    for n in range(12):
        opened = start + timedelta(hours=7 * n)
        reviewed = opened + timedelta(hours=5 * (n % 4) + 1) if n % 3 else None  # attended then, or never
        PullRequestFactory(external_id=f"pr-{n}", opened_at=opened, first_review_at=reviewed)
    prs = PullRequest.objects.all()
    ats = [start + timedelta(hours=6 * k) for k in range(20)]
    expected = [prs.waiting_for_review_count(at, timedelta(hours=4)) for at in ats]
    with django_assert_num_queries(2):
        found = prs.waiting_for_review_counts(ats, timedelta(hours=4))
    assert found == expected
    assert any(expected) and prs.waiting_for_review_counts([], timedelta(hours=4)) == []
