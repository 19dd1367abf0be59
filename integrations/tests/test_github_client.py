"""The GitHub client (integrations/github/client.py) and the HTTP layer under it (integrations/http.py),
behaviour by behaviour, against the loopback GitHub (fake_github.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from integrations.github.client import GitHub, NotConfigured, app_jwt, created_range, graphql_endpoint
from integrations.http import ApiError, ProviderUnavailable, RateLimited, Unauthorized
from integrations.models import Connection
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_github import (
    APP_ID,
    INSTALLATION_ID,
    TOKEN,
    FakeGitHub,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def repo(fake_github: FakeGitHub):
    repo = fake_github.repo("acme/checkout")
    for number in range(1, 8):
        fake_github.add_pull(repo, number=number, opened=T0 + timedelta(hours=number))
    return repo


def token_connection(fake: FakeGitHub, team, **fields) -> Connection:
    return ConnectionFactory(
        **{"source__team": team, "api_url": fake.url, "api_token": TOKEN, "repositories": ["acme/checkout"], **fields}
    )


def app_connection(fake: FakeGitHub, team) -> Connection:
    return ConnectionFactory(
        source__team=team,
        api_url=fake.url,
        app_id=APP_ID,
        app_private_key=fake.private_key_pem,
        installation_id=INSTALLATION_ID,
    )


def test_it_follows_link_headers_page_by_page(fake_github, repo, team):
    with GitHub(token_connection(fake_github, team)) as github:
        pages = list(github.api.pages(github.pulls_url("acme/checkout").replace("per_page=100", "per_page=3")))
    assert [len(page.items()) for page in pages] == [3, 3, 1]
    assert [pull["number"] for page in pages for pull in page.items()] == [7, 6, 5, 4, 3, 2, 1]
    assert "page=2" in pages[0].next_url and pages[-1].next_url == ""


def test_a_304_is_counted_and_costs_no_budget(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    with GitHub(connection) as github:
        first = github.page(github.pulls_url("acme/checkout"))
        connection.refresh_from_db()
        left = connection.rate_remaining
        again = github.page(first.url, etag=first.etag)
        assert (github.api.requests, github.api.not_modified) == (2, 1)
    assert again.not_modified and again.items() == []
    assert fake_github.log[-1][2] == 304
    connection.refresh_from_db()
    assert connection.rate_remaining == left


def test_the_budget_is_stored_on_the_connection(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    with GitHub(connection) as github:
        github.repository("acme/checkout")
    connection.refresh_from_db()
    assert (connection.rate_limit, connection.rate_remaining) == (5000, 4999)
    assert connection.rate_reset_at == fake_github.rate_reset


def test_an_older_answer_does_not_raise_the_remaining_budget(fake_github, repo, team):
    # Two tasks of one connection race: the lower remaining of the window is kept.
    connection = token_connection(fake_github, team)
    with GitHub(connection) as github:
        github.repository("acme/checkout")
        fake_github.rate_remaining = 4000
        github.repository("acme/checkout")
        fake_github.rate_remaining = 4500  # a slower answer from earlier in the same window
        github.repository("acme/checkout")
    connection.refresh_from_db()
    assert connection.rate_remaining == 3999


def test_at_the_floor_it_raises_rate_limited_without_calling(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    fake_github.rate_remaining = 51
    with GitHub(connection) as github:
        github.repository("acme/checkout")  # leaves 50: the floor
        calls = len(fake_github.log)
        with pytest.raises(RateLimited) as raised:
            github.repository("acme/checkout")
    assert raised.value.resume_at == fake_github.rate_reset
    assert "rate limit is nearly spent" in str(raised.value)
    assert len(fake_github.log) == calls


def test_a_secondary_limit_with_retry_after_pauses_the_connection(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    fake_github.fail(r"/pulls", 403, headers={"Retry-After": "120"}, body=body)
    before = timezone.now()
    with GitHub(connection) as github, pytest.raises(RateLimited) as raised:
        github.page(github.pulls_url("acme/checkout"))
    assert before + timedelta(seconds=119) <= raised.value.resume_at <= timezone.now() + timedelta(seconds=121)
    connection.refresh_from_db()
    assert connection.paused_until == raised.value.resume_at
    # No other task of the connection calls meanwhile.
    calls = len(fake_github.log)
    with GitHub(connection) as github, pytest.raises(RateLimited):
        github.repository("acme/checkout")
    assert len(fake_github.log) == calls


def test_a_429_without_retry_after_waits_a_minute(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    fake_github.fail(r"/pulls", 429, body={"message": "Too many requests"})
    with GitHub(connection) as github, pytest.raises(RateLimited) as raised:
        github.page(github.pulls_url("acme/checkout"))
    assert timedelta(seconds=55) < raised.value.resume_at - timezone.now() <= timedelta(minutes=1)


def test_a_spent_primary_budget_waits_for_the_reset(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    fake_github.rate_remaining = 0
    with GitHub(connection, floor=0) as github, pytest.raises(RateLimited) as raised:
        github.repository("acme/checkout")
    assert raised.value.resume_at == fake_github.rate_reset


def test_a_server_error_is_retried_then_succeeds(fake_github, repo, team):
    fake_github.fail(r"/repos/acme/checkout$", 502)
    with GitHub(token_connection(fake_github, team)) as github:
        assert github.repository("acme/checkout")["default_branch"] == "main"
    assert [status for _, _, status in fake_github.calls(r"/repos/acme/checkout$")] == [502, 200]


def test_server_errors_past_the_retries_are_a_clear_error(fake_github, repo, team):
    fake_github.fail(r"/repos/acme/checkout$", 503, times=5)
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ProviderUnavailable) as raised:
        github.repository("acme/checkout")
    assert str(raised.value) == "GitHub answered GET /repos/acme/checkout with 503, 3 times: try again later"


def test_a_timeout_is_a_clear_error(team, monkeypatch):
    # A server that accepts connections and never answers.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        connection = ConnectionFactory(
            source__team=team, api_url=f"http://127.0.0.1:{listener.getsockname()[1]}", api_token=TOKEN
        )
        unanswered = pytest.raises(ProviderUnavailable, match="did not answer GET /repos/a/b in time")
        with GitHub(connection, timeout=httpx.Timeout(0.2), retries=0) as github, unanswered:
            github.repository("a/b")
    finally:
        listener.close()


def test_a_bad_token_is_unauthorized_and_never_shown(fake_github, repo, team, caplog):
    connection = token_connection(fake_github, team, api_token="github_pat_wrong_one")
    with GitHub(connection) as github, pytest.raises(Unauthorized) as raised:
        github.repository("acme/checkout")
    assert "Bad credentials" in str(raised.value)
    assert "github_pat_wrong_one" not in str(raised.value) + caplog.text


def test_a_404_says_what_was_not_found(fake_github, repo, team):
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ApiError) as raised:
        github.repository("acme/nothing")
    assert raised.value.status == 404
    assert "found nothing at GET /repos/acme/nothing" in str(raised.value)


def test_a_link_to_another_host_is_not_followed(fake_github, repo, team):
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ApiError, match="not followed"):
        github.page("https://elsewhere.example/repos/acme/checkout/pulls?page=2")
    assert fake_github.log == []


def test_a_connection_without_credentials_is_not_configured(team):
    with pytest.raises(NotConfigured):
        GitHub(ConnectionFactory(source__team=team))


def test_a_github_app_exchanges_its_jwt_and_keeps_the_token(fake_github, repo, team):
    connection = app_connection(fake_github, team)
    with GitHub(connection) as github:
        assert github.repositories() == ["acme/checkout"]
        github.repository("acme/checkout")
    assert len(fake_github.calls(r"/access_tokens")) == 1
    stored = Connection.objects.get(pk=connection.pk)
    assert stored.access_token.startswith("ghs_")
    assert stored.access_token_expires_at > timezone.now() + timedelta(minutes=50)
    # The next client reuses the stored token.
    with GitHub(stored) as github:
        github.repository("acme/checkout")
    assert len(fake_github.calls(r"/access_tokens")) == 1


def test_a_token_about_to_expire_is_replaced_before_use(fake_github, repo, team):
    connection = app_connection(fake_github, team)
    connection.access_token, connection.access_token_expires_at = "ghs_old", timezone.now() + timedelta(minutes=4)
    connection.save()
    with GitHub(connection) as github:
        github.repository("acme/checkout")
    assert len(fake_github.calls(r"/access_tokens")) == 1
    assert [status for _, _, status in fake_github.log] == [201, 200]


def test_an_installation_token_that_expires_is_refreshed_once(fake_github, repo, team):
    connection = app_connection(fake_github, team)
    with GitHub(connection) as github:
        github.repository("acme/checkout")
        fake_github.expire_tokens_after(0)
        assert github.repository("acme/checkout")["full_name"] == "acme/checkout"
    statuses = [status for _, _, status in fake_github.log]
    assert statuses == [201, 200, 401, 201, 200]


def test_a_jwt_signed_by_another_key_is_refused(fake_github, repo, team):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    connection = app_connection(fake_github, team)
    connection.app_private_key = pem
    connection.save()
    with GitHub(connection) as github, pytest.raises(Unauthorized, match="could not be decoded"):
        github.repository("acme/checkout")


def test_the_app_jwt_is_rs256_from_the_app_id(fake_github):
    token = app_jwt(APP_ID, fake_github.private_key_pem, now=T0)
    import jwt

    claims = jwt.decode(
        token, fake_github.private_key.public_key(), algorithms=["RS256"], options={"verify_exp": False}
    )
    assert claims == {"iss": APP_ID, "iat": int(T0.timestamp()) - 60, "exp": int(T0.timestamp()) + 540}


def test_an_unreadable_private_key_is_not_configured(team, fake_github):
    with pytest.raises(NotConfigured, match="private key cannot sign"):
        app_jwt(APP_ID, "not a key")


def test_workflow_runs_are_filtered_on_their_created_range(fake_github, team):
    repo = fake_github.repo("acme/checkout")
    for hour in range(6):
        fake_github.add_run(repo, created=T0 + timedelta(hours=hour))
    with GitHub(token_connection(fake_github, team)) as github:
        bounded = github.runs_url("acme/checkout", T0 + timedelta(hours=1), T0 + timedelta(hours=3))
        open_ended = github.runs_url("acme/checkout", T0 + timedelta(hours=4))
        assert github.page(bounded).data["total_count"] == 3
        assert github.page(open_ended).data["total_count"] == 2
    assert created_range(bounded) == (T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert created_range(open_ended) == (T0 + timedelta(hours=4), None)
    assert created_range(f"{fake_github.url}/repos/acme/checkout/actions/runs") is None


def test_re_running_failed_jobs_posts_to_github(fake_github, team):
    repo = fake_github.repo("acme/checkout")
    run = fake_github.add_run(repo, created=T0, conclusion="failure")
    with GitHub(token_connection(fake_github, team)) as github:
        github.rerun_failed_jobs("acme/checkout", run["id"])
    assert fake_github.reruns == [str(run["id"])]


def test_the_logs_url_is_githubs_redirect_not_followed(fake_github, team):
    repo = fake_github.repo("acme/checkout")
    run = fake_github.add_run(repo, created=T0)
    with GitHub(token_connection(fake_github, team)) as github:
        where = github.run_logs_url("acme/checkout", run["id"])
    assert where == f"https://pipelines.actions.example/{run['id']}/logs.zip?sig=short-lived"
    assert len(fake_github.log) == 1


def test_the_connection_test_makes_a_real_call(fake_github, repo, team):
    with GitHub(token_connection(fake_github, team)) as github:
        assert github.test_connection() == "Connected: 1 repositories readable (acme/checkout)."
    with GitHub(app_connection(fake_github, team)) as github:
        said = github.test_connection()
    assert said == f"Connected as GitHub App {APP_ID}: the installation sees 1 repositories."


def test_the_connection_test_says_why_it_failed(fake_github, repo, team):
    connection = token_connection(fake_github, team, api_token="wrong")
    with GitHub(connection) as github, pytest.raises(Unauthorized, match="refused the credentials"):
        github.test_connection()


# --- GraphQL ---


@pytest.mark.parametrize(
    ("api_url", "endpoint"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"),
        ("https://api.acme.ghe.com", "https://api.acme.ghe.com/graphql"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/graphql"),
    ],
)
def test_the_graphql_endpoint_follows_the_rest_root(api_url, endpoint):
    assert graphql_endpoint(api_url) == endpoint


def test_a_graphql_page_of_pull_requests_and_its_cursor(fake_github, repo, team, monkeypatch):
    monkeypatch.setattr("integrations.github.client.GRAPHQL_PER_PAGE", 3)
    with GitHub(token_connection(fake_github, team)) as github:
        first, after = github.pulls_graphql("acme/checkout")
        url = github.pulls_graphql_url(after)
        assert github.is_graphql(url) and github.graphql_after(url) == after
        second, _ = github.pulls_graphql("acme/checkout", github.graphql_after(url))
        assert github.points == 2
    assert [node["number"] for node in first + second] == [7, 6, 5, 4, 3, 2]  # most recently updated first
    assert url.startswith(f"{fake_github.url}/graphql?after=") and len(url) < 2000
    assert [(method, path) for method, path, _ in fake_github.log] == [("POST", "/graphql")] * 2
    connection = Connection.objects.get()
    # The GraphQL budget (its own at GitHub) is written to the connection like REST's.
    assert connection.rate_remaining == fake_github.graphql_remaining == 4998


def test_reviews_and_commits_past_the_first_page_are_read_in_full(fake_github, team, monkeypatch):
    monkeypatch.setattr("integrations.github.client.GRAPHQL_INNER", 2)
    repo = fake_github.repo("acme/checkout")
    reviews = tuple((f"reviewer-{n}", "COMMENTED", T0 + timedelta(minutes=n)) for n in range(5))
    fake_github.add_pull(repo, number=1, opened=T0, reviews=reviews, commits=tuple(T0 for _ in range(3)))
    with GitHub(token_connection(fake_github, team)) as github:
        (node,), _ = github.pulls_graphql("acme/checkout")
        full = github.pull_in_full("acme/checkout", node)
    assert len(node["reviews"]["nodes"]) == 2
    assert [r["author"]["login"] for r in full["reviews"]["nodes"]] == [f"reviewer-{n}" for n in range(5)]
    assert len(full["commits"]["nodes"]) == 3
    assert fake_github.operations == ["PullRequests", "PullRequestReviews", "PullRequestReviews", "PullRequestCommits"]


def test_a_repository_graphql_does_not_find_says_so(fake_github, repo, team):
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ApiError) as raised:
        github.pulls_graphql("acme/nothing")
    assert raised.value.status == 404
    assert str(raised.value) == (
        "GitHub found nothing for PullRequests of acme/nothing (or the credentials may not see it): "
        "Could not resolve to a Repository with the name 'acme/nothing'."
    )


def test_a_graphql_permission_error_says_to_check_the_permissions(fake_github, repo, team):
    error = {"type": "FORBIDDEN", "message": "Resource not accessible by personal access token"}
    fake_github.fail(r"/graphql", 200, body={"data": {"repository": None}, "errors": [error]})
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ApiError) as raised:
        github.pulls_graphql("acme/checkout")
    assert (raised.value.status, str(raised.value)) == (
        403,
        "GitHub refused PullRequests of acme/checkout: Resource not accessible by personal access token "
        "(check the permissions)",
    )


def test_any_other_graphql_error_is_a_clear_error(fake_github, repo, team):
    error = {"message": "Field 'fullDatabaseId' doesn't exist on type 'PullRequest'", "locations": []}
    fake_github.fail(r"/graphql", 200, body={"errors": [error]})
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ApiError, match="doesn't exist"):
        github.pulls_graphql("acme/checkout")


def test_a_spent_graphql_budget_in_a_200_pauses_until_the_reset(fake_github, repo, team):
    connection = token_connection(fake_github, team)
    fake_github.graphql_remaining = 0
    with GitHub(connection, floor=0) as github, pytest.raises(RateLimited) as raised:
        github.pulls_graphql("acme/checkout")
    assert raised.value.resume_at == fake_github.rate_reset
    assert "the GraphQL rate limit is spent" in str(raised.value)
    connection.refresh_from_db()
    assert connection.paused_until == fake_github.rate_reset


@pytest.mark.parametrize("error_type", ["RATE_LIMITED", "RATE_LIMIT"])
def test_a_graphql_rate_limit_error_with_retry_after_waits_that_long(fake_github, repo, team, error_type):
    body = {"errors": [{"type": error_type, "code": "graphql_rate_limit", "message": "API rate limit exceeded"}]}
    fake_github.fail(r"/graphql", 200, headers={"Retry-After": "90"}, body=body)
    before = timezone.now()
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(RateLimited) as raised:
        github.pulls_graphql("acme/checkout")
    assert before + timedelta(seconds=89) <= raised.value.resume_at <= timezone.now() + timedelta(seconds=91)


def test_a_graphql_secondary_limit_is_the_layers(fake_github, repo, team):
    body = {"message": "You have exceeded a secondary rate limit."}
    fake_github.fail(r"/graphql", 403, headers={"Retry-After": "60"}, body=body)
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(RateLimited, match="POST /graphql"):
        github.pulls_graphql("acme/checkout")


def test_a_graphql_answer_that_is_not_json_is_a_clear_error(fake_github, repo, team):
    fake_github.fail(r"/graphql", 200, body=["not", "an", "object"])  # type: ignore[arg-type]
    with GitHub(token_connection(fake_github, team)) as github, pytest.raises(ApiError, match="other than a JSON"):
        github.pulls_graphql("acme/checkout")
