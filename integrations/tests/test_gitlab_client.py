"""The GitLab client (integrations/gitlab/client.py) on the HTTP layer (integrations/http.py), behaviour
by behaviour, against the loopback GitLab (fake_gitlab.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from integrations import health
from integrations.gitlab.client import GitLab, NotConfigured, project_path, test_connection
from integrations.http import ApiError, ProviderUnavailable, RateLimited, Unauthorized
from integrations.models import Connection
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_gitlab import TOKEN, FakeGitLab
from metrics.models import Source

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, tzinfo=UTC)
SHOP = "acme/platform/shop"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def project(fake_gitlab: FakeGitLab):
    project = fake_gitlab.project(SHOP)
    for iid in range(1, 8):
        fake_gitlab.add_merge_request(project, iid=iid, opened=T0 + timedelta(hours=iid))
    return project


def gitlab_connection(fake: FakeGitLab, team, **fields) -> Connection:
    return ConnectionFactory(
        **{
            "source__kind": Source.Kind.GITLAB,
            "source__team": team,
            "api_url": fake.api_url,
            "api_token": TOKEN,
            "repositories": [SHOP],
            **fields,
        }
    )


def test_a_project_is_sent_as_its_url_encoded_path(fake_gitlab, project, team):
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab:
        assert gitlab.project(SHOP)["path_with_namespace"] == SHOP
        gitlab.project(SHOP)  # once per client
    assert [path for _, path, _ in fake_gitlab.log] == ["/api/v4/projects/acme%2Fplatform%2Fshop"]


@pytest.mark.parametrize(
    "given", [SHOP, f"/{SHOP}/", f"{SHOP}.git", f"https://gitlab.example.com/{SHOP}", f" {SHOP}\n"]
)
def test_a_project_may_be_named_by_its_path_or_its_url(given):
    assert project_path(given) == SHOP


@pytest.mark.parametrize("given", ["", "  /  ", None, 42, ["acme/shop"]])
def test_a_project_named_by_nothing_usable_is_left_out(fake_gitlab, team, given):
    assert project_path(given) == ""
    connection = gitlab_connection(fake_gitlab, team, repositories=[given])
    assert test_connection(connection) == (
        True,
        "Connected as project_42_bot_3f1a; name the projects to backfill (group/project).",
    )


def test_it_follows_link_headers_page_by_page(fake_gitlab, project, team):
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab:
        url = gitlab.merge_requests_url(SHOP, T0).replace("per_page=100", "per_page=3")
        pages = list(gitlab.api.pages(url))
    assert [len(page.items()) for page in pages] == [3, 3, 1]
    assert [mr["iid"] for page in pages for mr in page.items()] == [7, 6, 5, 4, 3, 2, 1]  # updated_at, desc
    assert "page=2" in pages[0].next_url and pages[-1].next_url == ""


def test_without_a_link_header_it_follows_x_next_page(fake_gitlab, project, team):
    fake_gitlab.link_header = False
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab:
        url = gitlab.merge_requests_url(SHOP, T0).replace("per_page=100", "per_page=3")
        pages = list(gitlab.api.pages(url))
    assert [len(page.items()) for page in pages] == [3, 3, 1]
    assert "page=3" in pages[1].next_url and "updated_after=" in pages[1].next_url


def test_listings_are_filtered_on_their_update_time(fake_gitlab, project, team):
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab:
        page = gitlab.page(gitlab.merge_requests_url(SHOP, T0 + timedelta(hours=5)))
    assert [mr["iid"] for mr in page.items()] == [7, 6, 5]  # on or after the time


def test_a_304_is_counted(fake_gitlab, project, team):
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab:
        first = gitlab.page(gitlab.merge_requests_url(SHOP, T0))
        again = gitlab.page(first.url, etag=first.etag)
        assert (gitlab.api.requests, gitlab.api.not_modified) == (2, 1)
    assert first.etag.startswith('W/"') and again.not_modified and again.items() == []
    assert fake_gitlab.log[-1][2] == 304


def test_gitlabs_ratelimit_headers_are_the_connections_budget(fake_gitlab, project, team):
    connection = gitlab_connection(fake_gitlab, team)
    with GitLab(connection) as gitlab:
        gitlab.project(SHOP)
    connection.refresh_from_db()
    assert (connection.rate_limit, connection.rate_remaining) == (2000, 1999)
    assert connection.rate_reset_at == fake_gitlab.rate_reset


def test_at_the_floor_it_raises_rate_limited_without_calling(fake_gitlab, project, team):
    connection = gitlab_connection(fake_gitlab, team)
    fake_gitlab.rate_remaining = 51
    with GitLab(connection) as gitlab:
        gitlab.page(gitlab.merge_requests_url(SHOP, T0))  # leaves 50: the floor
        calls = len(fake_gitlab.log)
        with pytest.raises(RateLimited) as raised:
            gitlab.project(SHOP)
    assert raised.value.resume_at == fake_gitlab.rate_reset
    assert len(fake_gitlab.log) == calls


def test_a_429_with_retry_after_pauses_the_connection(fake_gitlab, project, team):
    connection = gitlab_connection(fake_gitlab, team)
    fake_gitlab.fail(r"/merge_requests", 429, headers={"Retry-After": "120"}, body="Retry later\n")
    before = timezone.now()
    with GitLab(connection) as gitlab, pytest.raises(RateLimited) as raised:
        gitlab.page(gitlab.merge_requests_url(SHOP, T0))
    assert before + timedelta(seconds=119) <= raised.value.resume_at <= timezone.now() + timedelta(seconds=121)
    connection.refresh_from_db()
    assert connection.paused_until == raised.value.resume_at
    calls = len(fake_gitlab.log)
    with GitLab(connection) as gitlab, pytest.raises(RateLimited):  # no other task calls meanwhile
        gitlab.project(SHOP)
    assert len(fake_gitlab.log) == calls


def test_a_spent_budget_is_a_429_that_waits_for_the_reset(fake_gitlab, project, team):
    fake_gitlab.rate_remaining = 0
    with GitLab(gitlab_connection(fake_gitlab, team), floor=0) as gitlab, pytest.raises(RateLimited) as raised:
        gitlab.project(SHOP)
    assert fake_gitlab.log[-1][2] == 429
    assert abs(raised.value.resume_at - fake_gitlab.rate_reset) <= timedelta(seconds=2)


def test_a_server_error_is_retried_then_succeeds(fake_gitlab, project, team):
    fake_gitlab.fail(r"/projects/acme%2Fplatform%2Fshop$", 502)
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab:
        assert gitlab.project(SHOP)["default_branch"] == "main"
    assert [status for _, _, status in fake_gitlab.log] == [502, 200]


def test_server_errors_past_the_retries_are_a_clear_error(fake_gitlab, project, team):
    fake_gitlab.fail(r"/pipelines", 503, times=5)
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab, pytest.raises(ProviderUnavailable) as raised:
        gitlab.page(gitlab.pipelines_url(SHOP, T0))
    assert str(raised.value) == (
        "GitLab answered GET /api/v4/projects/acme/platform/shop/pipelines with 503, 3 times: try again later"
    )


def test_a_bad_token_is_unauthorized_and_never_shown(fake_gitlab, project, team, caplog):
    connection = gitlab_connection(fake_gitlab, team, api_token="glpat-wrong-one")
    with GitLab(connection) as gitlab, pytest.raises(Unauthorized) as raised:
        gitlab.project(SHOP)
    assert "401 Unauthorized" in str(raised.value)
    assert "glpat-wrong-one" not in str(raised.value) + caplog.text


def test_a_missing_project_says_which(fake_gitlab, project, team):
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab, pytest.raises(ApiError) as raised:
        gitlab.project("acme/nothing")
    assert raised.value.status == 404
    assert str(raised.value).startswith("GitLab has no project acme/nothing that this token can read")


def test_a_link_to_another_host_is_not_followed(fake_gitlab, project, team):
    with GitLab(gitlab_connection(fake_gitlab, team)) as gitlab, pytest.raises(ApiError, match="not followed"):
        gitlab.page("https://elsewhere.example/api/v4/projects/1/merge_requests?page=2")
    assert fake_gitlab.log == []


def test_a_connection_without_a_token_is_not_configured(team):
    with pytest.raises(NotConfigured, match="no access token"):
        GitLab(ConnectionFactory(source__kind=Source.Kind.GITLAB, source__team=team))


def test_the_default_api_is_gitlab_com(team):
    connection = ConnectionFactory(source__kind=Source.Kind.GITLAB, source__team=team, api_token=TOKEN)
    with GitLab(connection) as gitlab:
        assert gitlab.merge_requests_url(SHOP, T0).startswith(
            "https://gitlab.com/api/v4/projects/acme%2Fplatform%2Fshop/merge_requests?"
        )


# --- The admin's test ---------------------------------------------------------------------------


def test_the_connection_test_names_the_token_and_its_projects(fake_gitlab, project, team):
    fake_gitlab.project("acme/billing")
    connection = gitlab_connection(fake_gitlab, team, repositories=[SHOP, "acme/billing"])
    assert test_connection(connection) == (
        True,
        "Connected as project_42_bot_3f1a: 2 projects readable (acme/billing, acme/platform/shop).",
    )
    assert [path for _, path, _ in fake_gitlab.log] == [
        "/api/v4/user",
        "/api/v4/projects/acme%2Fbilling",
        "/api/v4/projects/acme%2Fplatform%2Fshop",
    ]


def test_the_connection_test_asks_for_projects_when_none_are_named(fake_gitlab, team):
    connection = gitlab_connection(fake_gitlab, team, repositories=[])
    assert test_connection(connection) == (
        True,
        "Connected as project_42_bot_3f1a; name the projects to backfill (group/project).",
    )


def test_the_connection_test_says_the_token_is_refused_without_showing_it(fake_gitlab, project, team):
    connection = gitlab_connection(fake_gitlab, team, api_token="glpat-revoked")
    ok, message = health.check_connection(connection)  # found by its module name, as the admin finds it
    assert not ok
    assert message == "GitLab refused the credentials for GET /api/v4/user: 401 Unauthorized"


def test_the_connection_test_names_a_project_it_cannot_read(fake_gitlab, project, team):
    connection = gitlab_connection(fake_gitlab, team, repositories=[SHOP, "acme/secret"])
    ok, message = test_connection(connection)
    assert not ok
    assert message.startswith("GitLab has no project acme/secret that this token can read")
    assert TOKEN not in message


def test_the_connection_test_without_a_token_says_so(team):
    connection = ConnectionFactory(source__kind=Source.Kind.GITLAB, source__team=team)
    assert health.check_connection(connection) == (
        False,
        "this GitLab source has no access token (a read_api token is needed)",
    )


def test_a_token_without_read_api_is_told_which_scope_is_missing(fake_gitlab, project, team):
    body = {
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the access token.",
        "scope": "api read_api",
    }
    fake_gitlab.fail(r"/api/v4/user$", 403, body=body)
    ok, message = test_connection(gitlab_connection(fake_gitlab, team))
    assert not ok
    assert message == (
        "GitLab refused GET /api/v4/user: insufficient_scope: The request requires higher privileges than "
        "provided by the access token. (check the permissions)"
    )
