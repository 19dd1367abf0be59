"""Self-service actions on a failed pipeline run, against the loopback GitHub and its logs archive host: who may
run them (the policy's matrix; outsiders 404, anonymous users sent to sign in), the confirmation, the rate limits,
the audit rows, each GitHub error in the person's words, the logs streamed (never held whole), the runs no action
is offered on and why, and the queries the pipelines page and the actions' fragment cost."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Group, Permission
from django.http import StreamingHttpResponse
from django.urls import reverse

from actions import selfservice
from actions.models import ActionAudit, ActionKind, ActionPolicy
from actions.tests.selfservice_fixtures import failed_run, github_connection
from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory, UserFactory
from metrics.models import PipelineRun, Source
from metrics.refresh import service_refresh
from metrics.tests.factories import PipelineRunFactory, RepositoryFactory, SourceFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    # GitHub down: the client's three tries, without the seconds it waits between them (integrations' tests do too).
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def connection(fake_github, team):
    return github_connection(fake_github, team)


@pytest.fixture
def run(fake_github, connection, service):
    return failed_run(fake_github, connection, service)


def _remote_id(run: PipelineRun) -> str:
    return run.external_id.split("/")[0]


def _rerun(client, user, run, *, confirmed=True, htmx=True):
    client.force_login(user)
    data = {"confirmed": "yes"} if confirmed else {}
    headers = {**HTMX, "HX-Target": f"run-actions-{run.pk}"} if htmx else {}
    return client.post(reverse("actions:run-rerun", args=[run.pk]), data, headers=headers)


def _text(response) -> str:
    html = re.sub(r"</?(code|strong|span|a)\b[^>]*>", "", response.content.decode())
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _org_viewer(username: str):
    user = UserFactory(username=username, email=f"{username}@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


# --- Re-run failed jobs ---------------------------------------------------------------------------------------


def test_a_member_re_runs_the_failed_jobs_and_it_is_audited(client, teammate, run, fake_github):
    response = _rerun(client, teammate, run)

    assert response.status_code == 200
    assert "GitHub is re-running the failed jobs of CI" in _text(response)
    assert 'role="status"' in response.content.decode()
    assert fake_github.reruns == [_remote_id(run)]
    audit = ActionAudit.objects.get()
    assert (audit.user, audit.person, audit.actor) == (teammate, teammate.person, "bob@example.com")
    assert (audit.kind, audit.team, audit.pipeline_run) == (ActionKind.RERUN_FAILED_JOBS, run.service.owner, run)
    assert audit.target == f"CI on acme/checkout, run {_remote_id(run)} attempt 1"
    assert (audit.status, audit.response) == (ActionAudit.Status.SUCCEEDED, "201 Created")
    assert audit.message.startswith("GitHub is re-running") and audit.duration_ms is not None


def test_it_asks_for_confirmation_first_and_changes_nothing_until_confirmed(client, owner, run, fake_github):
    client.force_login(owner)
    asked = client.get(reverse("actions:run-rerun", args=[run.pk]), headers={**HTMX, "HX-Target": "x"})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert 'name="confirmed" value="yes"' in html and f'hx-post="/actions/runs/{run.pk}/rerun/"' in html
    assert "Re-run the failed jobs of CI on acme/checkout (c0ffee0)" in _text(asked)
    assert "<html" not in html  # a fragment, swapped in place of the buttons

    unconfirmed = _rerun(client, owner, run, confirmed=False)
    assert 'name="confirmed"' in unconfirmed.content.decode()
    assert fake_github.reruns == [] and not ActionAudit.objects.exists()


def test_without_htmx_the_confirmation_and_the_result_are_pages(client, owner, run, fake_github):
    client.force_login(owner)
    asked = client.get(reverse("actions:run-rerun", args=[run.pk]))
    assert "<html" in asked.content.decode() and 'name="confirmed"' in asked.content.decode()
    done = _rerun(client, owner, run, htmx=False)
    assert done.status_code == 200 and "<html" in done.content.decode()
    assert "GitHub is re-running" in _text(done)
    assert fake_github.reruns == [_remote_id(run)]


# --- Who may --------------------------------------------------------------------------------------------------


@pytest.fixture
def platform(other_team):
    """Pat, in the "Platform" group, and Quinn, a member of the Search team (the platform team below): both
    see the whole organisation, neither belongs to Payments."""
    pat, quinn = _org_viewer("pat"), _org_viewer("quinn")
    pat.groups.add(Group.objects.create(name="Platform"))
    person = PersonFactory(name="Quinn", handle="quinn", email=quinn.email, user=quinn)
    MembershipFactory(person=person, team=other_team, role=Membership.Role.MEMBER)
    return {"group": pat, "team": quinn, "viewer": _org_viewer("olga")}


ALLOWED = {
    # who may: lead, member, platform group, platform team, an org viewer of no team
    ActionPolicy.Who.MEMBERS: {"lead", "member", "group", "team"},
    ActionPolicy.Who.LEADS: {"lead", "group", "team"},
    ActionPolicy.Who.PLATFORM: {"group", "team"},
}


@pytest.mark.parametrize("who", list(ALLOWED))
def test_who_may_re_run_is_the_policys(client, who, owner, teammate, platform, other_team, run, fake_github):
    ActionPolicy.objects.create(
        kind=ActionKind.RERUN_FAILED_JOBS,
        who=who,
        platform_group=Group.objects.get(name="Platform"),
        platform_team=other_team,
        per_target_per_hour=10,
    )
    users = {"lead": owner, "member": teammate, **platform}
    answers = {name: _rerun(client, user, run).status_code for name, user in users.items()}
    assert answers == {name: 200 if name in ALLOWED[who] else 403 for name in users}
    assert len(fake_github.reruns) == len(ALLOWED[who])
    refused = ActionAudit.objects.filter(status=ActionAudit.Status.REFUSED)
    assert refused.count() == len(users) - len(ALLOWED[who])
    if who == ActionPolicy.Who.LEADS:
        assert refused.get(user=teammate).message == "Only leads of Payments may re-run failed jobs."


def test_someone_not_allowed_is_told_before_confirming(client, teammate, run, fake_github):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, who=ActionPolicy.Who.LEADS)
    client.force_login(teammate)
    response = client.get(reverse("actions:run-rerun", args=[run.pk]), headers={**HTMX, "HX-Target": "x"})
    assert response.status_code == 403 and "Only leads of Payments may re-run failed jobs." in _text(response)
    assert 'name="confirmed"' not in response.content.decode() and not ActionAudit.objects.exists()


def test_the_buttons_show_only_what_the_user_may_run(client, teammate, run):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, who=ActionPolicy.Who.LEADS)
    client.force_login(teammate)
    response = client.get(reverse("actions:run-actions"), {"run": run.pk}, headers=HTMX)
    html = response.content.decode()
    assert "Re-run failed jobs" not in html and "Only leads of Payments may re-run failed jobs." in html
    assert f'href="/actions/runs/{run.pk}/logs/"' in html  # the logs stay the members'


def test_a_lead_of_a_team_above_may_act_on_its_sub_teams_runs(client, owner, subteam, fake_github, connection):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, who=ActionPolicy.Who.LEADS)
    run = failed_run(fake_github, connection, ServiceFactory(name="Ledger", slug="ledger", owner=subteam))
    assert _rerun(client, owner, run).status_code == 200


def test_an_action_turned_off_is_refused_to_everyone(client, owner, staff, run, fake_github):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, enabled=False)
    for user in (owner, staff):
        response = _rerun(client, user, run)
        assert response.status_code == 403
        assert "An admin has turned “Re-run failed jobs” off." in _text(response)
        assert response.headers["HX-Retarget"] == "closest .run-actions"
    assert fake_github.reruns == []


def test_an_outsider_gets_404_and_nothing_is_audited(client, outsider, run, fake_github):
    client.force_login(outsider)
    for response in (
        client.get(reverse("actions:run-rerun", args=[run.pk])),
        client.post(reverse("actions:run-rerun", args=[run.pk]), {"confirmed": "yes"}),
        client.get(reverse("actions:run-logs", args=[run.pk])),
        client.get(reverse("actions:run-cell", args=[run.pk])),
    ):
        assert response.status_code == 404
    listed = client.get(reverse("actions:run-actions"), {"run": run.pk}, headers=HTMX)
    assert listed.status_code == 200 and f"data-run-actions='{run.pk}'" not in listed.content.decode()
    assert fake_github.reruns == [] and not ActionAudit.objects.exists()


def test_anonymous_users_are_sent_to_sign_in(client, run):
    for response in (
        client.post(reverse("actions:run-rerun", args=[run.pk]), {"confirmed": "yes"}),
        client.get(reverse("actions:run-logs", args=[run.pk])),
        client.get(reverse("actions:run-actions"), {"run": run.pk}),
    ):
        assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


# --- Rate limits ----------------------------------------------------------------------------------------------


def test_one_person_is_limited_per_hour(client, owner, fake_github, connection, service):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, per_user_per_hour=2, per_target_per_hour=5)
    runs = [failed_run(fake_github, connection, service) for _ in range(3)]
    answers = [_rerun(client, owner, run) for run in runs]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "You have reached the limit of 2 “Re-run failed jobs” an hour: try again in 60 minutes." in _text(answers[2])
    assert len(fake_github.reruns) == 2
    refused = ActionAudit.objects.get(status=ActionAudit.Status.REFUSED)
    assert (refused.pipeline_run, refused.response) == (runs[2], selfservice.RATE_LIMITED)


def test_one_run_is_limited_per_hour_whoever_asks(client, owner, teammate, run, fake_github):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, per_user_per_hour=10, per_target_per_hour=1)
    assert _rerun(client, owner, run).status_code == 200
    response = _rerun(client, teammate, run)
    assert response.status_code == 429 and "This run has reached the limit of 1" in _text(response)
    assert len(fake_github.reruns) == 1


def test_the_limit_counts_the_last_hour_and_not_the_refusals(client, owner, run, fake_github):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, per_user_per_hour=1, per_target_per_hour=1)
    assert _rerun(client, owner, run).status_code == 200
    assert _rerun(client, owner, run).status_code == 429
    assert _rerun(client, owner, run).status_code == 429  # the refusals do not push the wait further
    ActionAudit.objects.update(
        started_at=ActionAudit.objects.get(status="succeeded").started_at - timedelta(minutes=61)
    )
    assert _rerun(client, owner, run).status_code == 200
    assert len(fake_github.reruns) == 2


# --- GitHub's refusals, in the person's words -------------------------------------------------------------------


def _refuse_write(fake, run):
    fake.actions_permission = "read"


def _expire(fake, run):
    fake.expire_run(int(_remote_id(run)))


def _too_many(fake, run):
    fake.fail(r"/rerun-failed-jobs$", 429, headers={"Retry-After": "120"}, body={"message": "Too many requests"})


def _secondary(fake, run):
    fake.fail(
        r"/rerun-failed-jobs$",
        403,
        headers={"Retry-After": "60"},
        body={"message": "You have exceeded a secondary rate limit."},
    )


def _down(fake, run):
    fake.fail(r"/rerun-failed-jobs$", 502, times=3)


def _bad_token(fake, run):
    fake.tokens.clear()


@pytest.mark.parametrize(
    ("fault", "message", "said"),
    [
        (
            _refuse_write,
            "GitHub refused: the source's GitHub App (or token) needs the “Actions: write” permission on acme/"
            "checkout.",
            "Resource not accessible by integration",
        ),
        (_expire, "GitHub no longer has run {id} of acme/checkout: runs and their logs are kept", "found nothing"),
        (_too_many, "GitHub asks e360 to wait (a rate limit) until", "secondary rate limit"),
        (_secondary, "GitHub asks e360 to wait (a rate limit) until", "secondary rate limit"),
        (_down, "GitHub did not answer in time: try again in a few minutes.", "answered POST"),
        (_bad_token, "GitHub refused this source's credentials: an admin checks its connection", "Bad credentials"),
    ],
)
def test_each_github_refusal_says_what_to_do(client, owner, run, fake_github, fault, message, said):
    fault(fake_github, run)
    response = _rerun(client, owner, run)

    assert response.status_code == 200
    assert message.format(id=_remote_id(run)) in _text(response)
    assert "alert--error" in response.content.decode()
    audit = ActionAudit.objects.get()
    assert audit.status == ActionAudit.Status.FAILED and said in audit.response
    assert TOKEN_TEXT not in audit.response and TOKEN_TEXT not in response.content.decode()


TOKEN_TEXT = "github_pat"


def test_a_paused_connection_is_not_called(client, owner, run, fake_github, connection):
    from django.utils import timezone

    connection.paused_until = timezone.now() + timedelta(minutes=5)
    connection.save()
    response = _rerun(client, owner, run)
    assert "GitHub asks e360 to wait (a rate limit)" in _text(response)
    assert fake_github.calls("rerun") == []


# --- Logs -----------------------------------------------------------------------------------------------------


def _logs(client, user, run):
    client.force_login(user)
    return client.get(reverse("actions:run-logs", args=[run.pk]))


def test_the_logs_stream_from_the_short_lived_address_as_a_download(client, teammate, run, fake_logs_archive):
    response = _logs(client, teammate, run)

    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    remote = _remote_id(run)
    assert response["Content-Disposition"] == f'attachment; filename="logs-acme-checkout-{remote}-1.zip"'
    assert response["Content-Type"] == "application/zip" and response["Cache-Control"] == "no-store"
    audit = ActionAudit.objects.get()
    assert (audit.kind, audit.status) == (ActionKind.FETCH_LOGS, ActionAudit.Status.RUNNING)  # until it is sent
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert f"run {remote} attempt 1" in archive.read("build/2_Run tests.txt").decode()
    # The attempt's logs, fetched from the archive host without e360's credentials.
    assert fake_logs_archive.requests == [(f"/{remote}/1/logs.zip", False)]
    audit.refresh_from_db()
    assert audit.status == ActionAudit.Status.SUCCEEDED and audit.response == f"200, {len(body)} bytes"


def test_a_large_archive_is_streamed_chunk_by_chunk_never_held_whole(client, teammate, run, fake_logs_archive):
    size = 48 * 1024 * 1024
    fake_logs_archive.large(int(_remote_id(run)), 1, size)
    response = _logs(client, teammate, run)
    assert isinstance(response, StreamingHttpResponse)
    chunks = iter(response.streaming_content)

    first = next(chunks)
    assert 0 < len(first) <= selfservice.CHUNK
    assert fake_logs_archive.sent < size  # the archive is still being written while the first chunk is out
    tracemalloc.start()
    try:
        received = len(first) + sum(len(chunk) for chunk in chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 4 * 1024 * 1024  # a few chunks at most, not 48 MB
    assert ActionAudit.objects.get().status == ActionAudit.Status.SUCCEEDED


# Closed as a WSGI server closes a response, the request's end closes the database connection too: these two run
# outside the test's transaction, so that the next query opens another.
@pytest.mark.django_db(transaction=True)
def test_a_download_that_stops_is_audited_as_failed(client, teammate, run, fake_logs_archive):
    fake_logs_archive.large(int(_remote_id(run)), 1, 8 * 1024 * 1024)
    response = _logs(client, teammate, run)
    next(iter(response.streaming_content))
    response.close()  # the browser went away
    audit = ActionAudit.objects.get()
    assert audit.status == ActionAudit.Status.FAILED and audit.message.startswith("The download stopped after")


@pytest.mark.django_db(transaction=True)
def test_a_download_never_read_is_closed_and_audited(client, teammate, run, fake_logs_archive):
    response = _logs(client, teammate, run)
    response.close()
    audit = ActionAudit.objects.get()
    assert (audit.status, audit.message) == (ActionAudit.Status.FAILED, "The download stopped after 0 bytes.")


def test_the_logs_of_an_expired_run_say_why(client, teammate, run, fake_github, fake_logs_archive):
    fake_github.expire_run(int(_remote_id(run)))
    response = _logs(client, teammate, run)
    assert response.status_code == 502
    assert f"GitHub no longer has run {_remote_id(run)} of acme/checkout" in _text(response)
    assert fake_logs_archive.requests == []
    assert ActionAudit.objects.get().status == ActionAudit.Status.FAILED


def test_an_archive_address_that_expired_says_to_try_again(client, teammate, run, fake_logs_archive):
    fake_logs_archive.lifetime = timedelta(minutes=-1)
    response = _logs(client, teammate, run)
    assert response.status_code == 502
    assert "GitHub's logs archive answered 403 (its address lasts a minute): try again." in _text(response)


def test_the_logs_are_rate_limited_too(client, teammate, run, fake_logs_archive):
    ActionPolicy.objects.create(kind=ActionKind.FETCH_LOGS, per_user_per_hour=1, per_target_per_hour=1)
    first = _logs(client, teammate, run)
    b"".join(first.streaming_content)
    assert _logs(client, teammate, run).status_code == 429


# --- Runs no action is offered on -----------------------------------------------------------------------------


@pytest.fixture
def elsewhere(service, fake_github, connection):
    """Failed runs of other sources, and GitHub runs e360 cannot name or that are not failed."""
    repository = RepositoryFactory(name="acme/checkout", service=service)

    def run(source, **fields):
        fields = {"status": PipelineRun.Status.FAILURE, "repository": repository, **fields}
        return PipelineRunFactory(source=source, service=service, **fields)

    unconnected = SourceFactory(name="GitHub, no connection", kind=Source.Kind.GITHUB)
    return {
        "gitlab": run(SourceFactory(name="GitLab", kind=Source.Kind.GITLAB), external_id="881"),
        "api": run(SourceFactory(name="CI API", kind=Source.Kind.API)),
        "devlake": run(SourceFactory(name="DevLake", kind=Source.Kind.DEVLAKE)),
        "unconnected": run(unconnected, external_id="5/1"),
        "no repository": run(connection.source, external_id="6/1", repository=None),
        "odd id": run(connection.source, external_id="build-7"),
        "passed": run(connection.source, external_id="8/1", status=PipelineRun.Status.SUCCESS),
    }


WHY_NOT = {
    "gitlab": "GitLab pipeline: e360 re-runs and fetches the logs of GitHub Actions runs only.",
    "api": "Sent through the JSON API: e360 has no connection to its CI.",
    "devlake": "Sent by DevLake: e360 has no connection to its CI.",
    "unconnected": "Its GitHub source has no connection: an admin sets one up to offer actions.",
    "no repository": "The run names no repository.",
    "odd id": "Not a GitHub Actions run id: e360 cannot name it to GitHub.",
    "passed": "Only a failed run offers actions.",
}


def test_other_runs_say_why_no_action_is_offered(client, owner, elsewhere, fake_github):
    client.force_login(owner)
    response = client.get(reverse("actions:run-actions"), {"run": [r.pk for r in elsewhere.values()]}, headers=HTMX)
    html = response.content.decode()
    assert "Re-run failed jobs" not in html and "Fetch logs" not in html
    for name, run in elsewhere.items():
        cell = re.search(rf"<div hx-swap-oob=\"innerHTML:\[data-run-actions='{run.pk}'\]\">(.*?)</div>", html, re.S)
        assert cell and WHY_NOT[name] in unescape(cell.group(1)), name
        rerun = _rerun(client, owner, run)
        assert rerun.status_code == 409 and WHY_NOT[name] in _text(rerun)
        assert _logs(client, owner, run).status_code == 409
    assert fake_github.log == [] and not ActionAudit.objects.exists()


def test_a_run_re_run_since_offers_its_logs_not_another_re_run(client, owner, run, fake_github):
    PipelineRunFactory(
        source=run.source, external_id=f"{_remote_id(run)}/2", service=run.service, attempt=2, status="success"
    )
    client.force_login(owner)
    html = client.get(reverse("actions:run-actions"), {"run": run.pk}, headers=HTMX).content.decode()
    assert "Attempt 2 has run since: re-run from the latest attempt." in html
    assert "Re-run failed jobs</a>" not in html and "Fetch logs" in html
    response = _rerun(client, owner, run)
    assert response.status_code == 409 and "Attempt 2 has run since" in _text(response)
    with pytest.raises(selfservice.NotOffered, match="Attempt 2 has run since"):
        selfservice.rerun_failed_jobs(user=owner, run=run)  # whoever calls it (an automation, later)
    assert fake_github.reruns == [] and not ActionAudit.objects.exists()


# --- Input and queries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [({"run": "x"}, "A run is named by its number."), ({"run": list(range(1, 102))}, "At most 100 runs at a time.")],
)
def test_bad_run_ids_answer_400(client, owner, query, message):
    client.force_login(owner)
    response = client.get(reverse("actions:run-actions"), query, headers=HTMX)
    assert response.status_code == 400 and message in _text(response)


def test_the_actions_of_a_page_of_runs_cost_a_fixed_number_of_queries(
    client, owner, fake_github, connection, service, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(owner)
    url = reverse("actions:run-actions")
    one = failed_run(fake_github, connection, service)
    with django_assert_max_num_queries(11) as few:
        client.get(url, {"run": one.pk}, headers=HTMX)
    many = [failed_run(fake_github, connection, service) for _ in range(24)]
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, {"run": [one.pk, *(r.pk for r in many)]}, headers=HTMX)
    assert response.content.decode().count("Re-run failed jobs") == 25


def test_the_pipelines_page_loads_the_failed_runs_actions_at_no_cost(
    client, owner, team, service, fake_github, connection, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(owner)
    url = reverse("metrics:team-pipelines", args=[team.slug])
    run = failed_run(fake_github, connection, service)
    passed = PipelineRunFactory(source=connection.source, service=service, finished_at=run.finished_at)
    service_refresh(service_id=service.pk)
    with django_assert_max_num_queries(30) as few:
        response = client.get(url)
    html = response.content.decode()
    # Failing now: the workflow's latest run, with a cell of its own, loaded by a request of its own.
    assert f'<div id="failing-actions-{run.pk}" class="run-actions" data-run-actions="{run.pk}"></div>' in html
    assert html.count(f'hx-get="/actions/runs/?run={run.pk}"') == 2
    assert f'<div id="run-actions-{run.pk}" class="run-actions" data-run-actions="{run.pk}"></div>' in html
    assert f"run-actions-{passed.pk}" not in html
    assert f'hx-get="/actions/runs/?run={run.pk}" hx-trigger="load" hx-swap="none"' in html

    more = [failed_run(fake_github, connection, service) for _ in range(10)]
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    ids = "&amp;".join(f"run={r.pk}" for r in sorted([run, *more], key=lambda r: (r.finished_at, r.pk), reverse=True))
    assert f'hx-get="/actions/runs/?{ids}"' in response.content.decode()


def test_the_runs_partial_loads_its_actions_too(client, owner, team, service, fake_github, connection):
    run = failed_run(fake_github, connection, service)
    client.force_login(owner)
    url = reverse("metrics:team-pipelines", args=[team.slug])
    response = client.get(url, {"status": "failure"}, headers={**HTMX, "HX-Target": "runs"})
    assert f'hx-get="/actions/runs/?run={run.pk}"' in response.content.decode()


# --- Admin ----------------------------------------------------------------------------------------------------


def test_the_audit_is_read_only_in_the_admin(client, admin_client, owner, run, fake_github):
    _rerun(client, owner, run)
    audit = ActionAudit.objects.get()
    listed = admin_client.get(reverse("admin:actions_actionaudit_changelist"))
    assert listed.status_code == 200 and "Re-run failed jobs" in listed.content.decode()
    page = admin_client.get(reverse("admin:actions_actionaudit_change", args=[audit.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:actions_actionaudit_add")).status_code == 403
    assert admin_client.post(reverse("admin:actions_actionaudit_delete", args=[audit.pk])).status_code == 403


def test_a_policy_is_set_in_the_admin(admin_client, other_team):
    group = Group.objects.create(name="Platform")
    response = admin_client.post(
        reverse("admin:actions_actionpolicy_add"),
        {
            "kind": ActionKind.RERUN_FAILED_JOBS,
            "enabled": "on",
            "who": ActionPolicy.Who.LEADS,
            "platform_group": group.pk,
            "platform_team": other_team.pk,
            "per_user_per_hour": 4,
            "per_target_per_hour": 2,
        },
    )
    assert response.status_code == 302
    policy = selfservice.policy_for(ActionKind.RERUN_FAILED_JOBS)
    assert (policy.who, policy.platform_group, policy.platform_team) == ("leads", group, other_team)
    assert selfservice.policy_for(ActionKind.FETCH_LOGS).pk is None  # no row: the defaults


def test_a_new_team_s_members_may_act_without_any_policy(client, fake_github, connection):
    squad = TeamFactory(name="Squad", slug="squad")
    user = UserFactory(username="dana", email="dana@example.com")
    MembershipFactory(person=PersonFactory(user=user, email=user.email), team=squad, role=Membership.Role.MEMBER)
    run = failed_run(fake_github, connection, ServiceFactory(owner=squad))
    assert _rerun(client, user, run).status_code == 200


def test_a_connection_e360_cannot_use_is_said_and_audited_not_a_crash(client, owner, run, connection):
    connection.api_url = "http://[::1"  # not a URL httpx can send to
    connection.save()
    response = _rerun(client, owner, run)
    assert response.status_code == 200 and selfservice.UNEXPECTED in _text(response)
    assert ActionAudit.objects.get().status == ActionAudit.Status.FAILED
