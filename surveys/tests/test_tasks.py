"""Scheduling and emails: the schedule that runs ``tasks.tick`` every minute, campaigns opened and
closed on time, reminders exactly once per step and only to who has not answered, recurring
waves, invitation emails, mail failures retried, and no answer in any task argument.

``tick`` takes the moment it runs at, so the tests move through a campaign's weeks without
waiting. Emails go to Django's locmem backend (``mailoutbox``) unless a test says otherwise.
"""

from __future__ import annotations

import logging
import pydoc
import re
import smtplib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.scheduler import scheduler

from e360.models import Person
from e360.tests.factories import TeamFactory
from surveys import services, tasks
from surveys.models import Campaign, Invitation, Kind, Template, TemplateQuestion
from surveys.services import AnswerValue
from surveys.tests.factories import campaign_for, members

pytestmark = pytest.mark.django_db

SECRET = "zebra-5512 the deploy train is broken"
LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
REFUSED = {  # a real SMTP connection to a port nobody listens on: refused at once
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": 1, "use_tls": False, "timeout": 2},
    }
}


@pytest.fixture
def crew(team):
    """Five people of ``team``."""
    return members(team, 5)


def _scheduled(team, **fields) -> Campaign:
    campaign = campaign_for([team], **fields)
    return services.campaign_schedule(campaign_id=campaign.pk)


def _open(team, **fields) -> Campaign:
    """Open (at its ``opens_at``), invitations emailed."""
    campaign = campaign_for([team], **fields)
    services.campaign_open(campaign_id=campaign.pk, now=campaign.opens_at)
    tasks.send_invitations(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def _answer(invitation: Invitation, text: str = "") -> None:
    version = invitation.campaign.version
    answers = {version.questions.get(key="ci_cd_flaky").pk: AnswerValue(number=2)}
    if text:
        answers[version.questions.get(key="open_slows_you").pk] = AnswerValue(text=text)
    services.response_submit(invitation=invitation, answers=answers)


def _reminded(outbox) -> list[str]:
    return sorted(m.to[0] for m in outbox if m.subject.startswith("Reminder: "))


# --- The schedule --------------------------------------------------------------------------


def test_the_migration_schedules_tick_every_minute(db):
    schedule = Schedule.objects.get(func="surveys.tasks.tick")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert pydoc.locate(schedule.func) is tasks.tick


def test_django_q_runs_the_schedule_and_it_opens_a_due_campaign(team, crew, mailoutbox):
    campaign = _scheduled(team, opens_at=timezone.now() - timedelta(minutes=1))
    Schedule.objects.filter(func="surveys.tasks.tick").update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler()  # what the cluster's scheduler does each round; tests run tasks inline
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    assert len(mailoutbox) == 5
    run = Task.objects.get(func="surveys.tasks.tick")
    assert run.success and run.result.startswith("Opened 1, closed 0 campaigns; sent 5 invitations")


# --- Opening and closing on time -------------------------------------------------------------


def test_tick_opens_a_scheduled_campaign_when_due_and_not_before(team, crew, mailoutbox):
    opens = timezone.now() + timedelta(hours=2)
    campaign = _scheduled(team, opens_at=opens, closes_at=opens + timedelta(days=14))
    tasks.tick(now=opens - timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED and not campaign.invitations.exists()
    assert not mailoutbox
    tasks.tick(now=opens)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN and campaign.opened_at == opens
    assert campaign.invitations.count() == 5 and campaign.version is not None
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in crew)
    tasks.tick(now=opens + timedelta(minutes=1))  # the next minute: nothing twice
    assert len(mailoutbox) == 5 and campaign.invitations.count() == 5


def test_a_draft_never_opens_by_itself(team, crew):
    campaign = campaign_for([team])
    tasks.tick()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_tick_closes_an_open_campaign_when_due(team, crew):
    campaign = _open(team)
    tasks.tick(now=campaign.closes_at - timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    tasks.tick(now=campaign.closes_at)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED and campaign.closed_at == campaign.closes_at


def test_a_scheduled_campaign_past_its_close_is_closed_without_opening(team, crew, caplog, mailoutbox):
    """Its moment has passed (no worker ran, or its audience stayed too small): nobody is invited."""
    campaign = _scheduled(team)
    with caplog.at_level(logging.WARNING, logger="surveys"):
        tasks.tick(now=campaign.closes_at + timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED and campaign.opened_at is None and campaign.version is None
    assert not campaign.invitations.exists() and not mailoutbox
    assert f"Campaign {campaign.pk} closed without having opened: nobody was invited" in caplog.messages


def test_a_recurring_series_goes_on_after_a_wave_that_never_opened(team, crew):
    campaign = _scheduled(team, recurrence=Campaign.Recurrence.QUARTERLY)
    tasks.tick(now=campaign.closes_at + timedelta(minutes=1))
    following = Campaign.objects.get(series=campaign.series, wave=2)
    assert following.status == Campaign.Status.SCHEDULED
    assert following.opens_at.month == (campaign.opens_at.month + 2) % 12 + 1


def test_a_campaign_whose_audience_shrank_below_k_stays_scheduled_and_says_why(team, crew, caplog):
    opens = timezone.now() + timedelta(hours=1)
    campaign = _scheduled(team, opens_at=opens)
    Person.objects.filter(memberships__team=team).exclude(user__username__in=["payments-0", "payments-1"]).update(
        is_active=False
    )
    with caplog.at_level(logging.WARNING, logger="surveys"):
        tasks.tick(now=opens)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED and not campaign.invitations.exists()
    assert (
        f"Campaign {campaign.pk} could not open: The audience has 2 people, fewer than k = 3: "
        "no answer could stay anonymous." in caplog.messages
    )
    Person.objects.update(is_active=True)  # an admin fixes the audience: the next minute opens it
    tasks.tick(now=opens + timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN and campaign.invitations.count() == 5


def test_scheduling_refuses_what_could_not_open(team):
    members(team, 2)
    campaign = campaign_for([team])
    with pytest.raises(services.AudienceError, match="fewer than k = 3"):
        services.campaign_schedule(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_opening_refuses_a_campaign_whose_closing_time_has_passed(team, crew):
    now = timezone.now()
    campaign = campaign_for([team], opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
    with pytest.raises(services.CampaignError, match="was due to close already"):
        services.campaign_open(campaign_id=campaign.pk)
    assert not Invitation.objects.exists()


# --- Reminders -----------------------------------------------------------------------------


def test_reminders_follow_the_plan_only_to_who_has_not_answered_once_per_step(team, crew, mailoutbox):
    campaign = _open(team, reminder_days=[2, 5])
    answered = campaign.invitations.select_related("person", "campaign__version").first()
    _answer(answered)
    waiting = sorted(u.email for u in crew if u.email != answered.person.email)
    start = campaign.opened_at
    tasks.tick(now=start + timedelta(days=1))
    assert _reminded(mailoutbox) == []
    tasks.tick(now=start + timedelta(days=2, minutes=1))
    assert _reminded(mailoutbox) == waiting
    tasks.tick(now=start + timedelta(days=2, minutes=2))  # the next minute: the same step, sent already
    tasks.tick(now=start + timedelta(days=3))
    assert _reminded(mailoutbox) == waiting
    tasks.tick(now=start + timedelta(days=5, minutes=1))
    assert _reminded(mailoutbox) == sorted(waiting * 2)
    tasks.tick(now=start + timedelta(days=9))  # the plan is done
    assert len(_reminded(mailoutbox)) == 8
    assert set(Invitation.objects.exclude(pk=answered.pk).values_list("reminders_sent", flat=True)) == {2}
    assert Invitation.objects.get(pk=answered.pk).reminders_sent == 0


def test_tick_twice_at_the_same_minute_sends_each_reminder_once(team, crew, mailoutbox):
    campaign = _open(team, reminder_days=[2])
    due = campaign.opened_at + timedelta(days=2, minutes=1)
    tasks.tick(now=due)
    tasks.tick(now=due)
    assert _reminded(mailoutbox) == sorted(u.email for u in crew)


def test_a_tick_running_while_another_sends_reminders_sends_each_once(team, crew, mailoutbox, monkeypatch):
    """Two workers at once, interleaved for certain: the second runs in the middle of the first's first email."""
    campaign = _open(team, reminder_days=[2])
    due = campaign.opened_at + timedelta(days=2, minutes=1)
    real_send = LocmemBackend.send_messages
    nested: list[bool] = []

    def send_and_let_another_worker_run(self, messages):
        if not nested:
            nested.append(True)
            tasks.tick(now=due)  # the other worker: everything but the invitation claimed already
        return real_send(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", send_and_let_another_worker_run)
    tasks.tick(now=due)
    assert nested
    assert _reminded(mailoutbox) == sorted(u.email for u in crew)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ticks_send_each_reminder_once(mailoutbox):
    template = Template.objects.create(name="Pulse", slug="tick-pulse")
    TemplateQuestion.objects.create(template=template, position=1, key="q", text="Fine?", kind=Kind.AGREEMENT)
    team = TeamFactory(slug="tick-team", name="Tick team")
    people = members(team, 12)
    campaign = campaign_for([team], template="tick-pulse", reminder_days=[1])
    services.campaign_open(campaign_id=campaign.pk)
    tasks.send_invitations(campaign.pk)
    campaign.refresh_from_db()
    due = campaign.opened_at + timedelta(days=1, minutes=1)
    barrier = threading.Barrier(2)
    failures: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            tasks.tick(now=due)
        except Exception as exc:  # SQLite may refuse the second writer outright; it then sent nothing more
            failures.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tasks.tick(now=due)  # the next minute finishes what a refused writer left
    assert _reminded(mailoutbox) == sorted(u.email for u in people)
    if connection.vendor == "postgresql":
        assert not failures


def test_a_missed_step_sends_only_the_latest(team, crew, mailoutbox):
    campaign = _open(team, reminder_days=[1, 2, 3])
    tasks.tick(now=campaign.opened_at + timedelta(days=3, minutes=1))  # no worker ran for three days
    assert _reminded(mailoutbox) == sorted(u.email for u in crew)
    assert set(campaign.invitations.values_list("reminders_sent", flat=True)) == {3}
    tasks.tick(now=campaign.opened_at + timedelta(days=4))
    assert len(_reminded(mailoutbox)) == 5


def test_no_reminder_after_closing(team, crew, mailoutbox):
    campaign = _open(team, reminder_days=[2, 5], closes_at=timezone.now() + timedelta(days=4))
    services.campaign_close(campaign_id=campaign.pk)  # closed early, by hand
    tasks.tick(now=campaign.opened_at + timedelta(days=2, minutes=1))
    assert tasks.send_reminder_step(campaign.pk, 1) == 0
    assert _reminded(mailoutbox) == []


def test_no_reminder_once_the_closing_time_passed(team, crew, mailoutbox):
    campaign = _open(team, reminder_days=[3], closes_at=timezone.now() + timedelta(days=2))
    tasks.tick(now=campaign.opened_at + timedelta(days=3, minutes=1))  # closes it; day 3 is past its close
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED
    assert _reminded(mailoutbox) == []


def test_the_next_step_for_send_reminders_now(team, crew):
    campaign = _open(team, reminder_days=[2, 5])
    start = campaign.opened_at
    assert services.reminder_step_next(campaign, start + timedelta(hours=1)) == 1
    assert services.reminder_step_next(campaign, start + timedelta(days=5, hours=1)) == 2  # due, never sent
    tasks.send_reminder_step(campaign.pk, 1)
    assert services.reminder_step_next(campaign, start + timedelta(hours=2)) == 2
    tasks.send_reminder_step(campaign.pk, 2)
    with pytest.raises(services.CampaignError, match="all 2 reminders of its plan were sent"):
        services.reminder_step_next(campaign, start + timedelta(hours=3))
    assert tasks.send_reminder_step(campaign.pk, 3) == 0  # beyond the plan: nothing


# --- Recurring campaigns ---------------------------------------------------------------------


def test_a_recurring_campaigns_next_wave_is_created_at_close_and_opened_by_tick(team, crew, mailoutbox):
    opens = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # 9:00 in Paris
    first = campaign_for(
        [team],
        opens_at=opens,
        closes_at=opens + timedelta(days=14),
        recurrence=Campaign.Recurrence.MONTHLY,
        reminder_days=[2],
        time_zone="Europe/Paris",
    )
    services.campaign_schedule(campaign_id=first.pk, now=opens - timedelta(days=1))
    tasks.tick(now=opens)
    tasks.tick(now=opens + timedelta(days=14))
    first.refresh_from_db()
    assert first.status == Campaign.Status.CLOSED
    second = Campaign.objects.get(series=first.series, wave=2)
    assert second.status == Campaign.Status.SCHEDULED
    assert second.opens_at == datetime(2026, 2, 5, 8, 0, tzinfo=UTC)
    assert second.closes_at - second.opens_at == timedelta(days=14)
    assert list(second.teams.all()) == [team] and second.reminder_days == [2] and second.k == first.k
    mailoutbox.clear()
    tasks.tick(now=second.opens_at - timedelta(minutes=1))
    second.refresh_from_db()
    assert second.status == Campaign.Status.SCHEDULED
    tasks.tick(now=second.opens_at)
    second.refresh_from_db()
    assert second.status == Campaign.Status.OPEN and second.invitations.count() == 5
    assert len(mailoutbox) == 5
    tasks.tick(now=second.closes_at)
    assert Campaign.objects.filter(series=first.series).count() == 3  # and so on


# --- Emails ----------------------------------------------------------------------------------


def test_the_invitation_email_has_a_text_and_an_html_part_with_the_plain_survey_link(team, crew, mailoutbox, settings):
    settings.SITE_URL = "https://e360.example.com"
    campaign = _open(
        team,
        name="Developer experience, winter",
        time_zone="Europe/Paris",
        closes_at=datetime(2030, 1, 10, 17, 0, tzinfo=UTC),
    )
    message = next(m for m in mailoutbox if m.to == [crew[0].email])
    link = f"https://e360.example.com/surveys/{campaign.pk}/"
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    for part in (message.body, html):
        assert link in part
        # Every address in the email is that one: no query string, no token that signs anybody in.
        assert set(re.findall(r"https?://[^\s\"'<>]+", part)) == {link}
        assert "token" not in part.lower() and "key=" not in part
        assert "10 January 2030, 18:00 CET" in part  # the campaign's time zone
    assert message.subject == "Developer experience, winter — your answers are anonymous"
    assert "Payments 0" in message.body


def test_a_refused_mail_server_leaves_every_invitation_to_be_retried(team, crew, mailoutbox, settings, caplog):
    settings.MAILERS = REFUSED
    campaign = _scheduled(team)
    with caplog.at_level(logging.WARNING, logger="surveys"):
        tasks.tick()  # opens it; its invitations cannot be sent
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    assert campaign.invitations.filter(emailed_at__isnull=True).count() == 5
    assert any("not sent" in message and "retried at the next tick" in message for message in caplog.messages)
    with pytest.raises(ConnectionRefusedError):
        tasks.send_invitations(campaign.pk)  # the queued task fails too (django-q records it), sending nothing
    settings.MAILERS = LOCMEM  # the server is back
    tasks.tick()
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in crew)
    assert not campaign.invitations.filter(emailed_at__isnull=True).exists()


def test_an_email_failing_midway_is_released_and_the_rest_follow_at_the_next_tick(team, crew, mailoutbox, monkeypatch):
    campaign = campaign_for([team])
    services.campaign_open(campaign_id=campaign.pk)
    real_send = LocmemBackend.send_messages
    calls: list[int] = []

    def flaky(self, messages):
        calls.append(1)
        if len(calls) == 3:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", flaky)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        tasks.send_invitations(campaign.pk)
    assert len(mailoutbox) == 2
    assert campaign.invitations.filter(emailed_at__isnull=False).count() == 2  # only those really sent
    tasks.tick()
    assert len(mailoutbox) == 5 and len({m.to[0] for m in mailoutbox}) == 5


def test_a_reminder_that_could_not_be_sent_is_retried(team, crew, mailoutbox, monkeypatch):
    campaign = _open(team, reminder_days=[2])
    due = campaign.opened_at + timedelta(days=2, minutes=1)
    real_send = LocmemBackend.send_messages
    monkeypatch.setattr(
        LocmemBackend, "send_messages", lambda self, messages: (_ for _ in ()).throw(ConnectionRefusedError())
    )
    tasks.tick(now=due)
    assert _reminded(mailoutbox) == []
    assert set(campaign.invitations.values_list("reminders_sent", flat=True)) == {0}
    monkeypatch.setattr(LocmemBackend, "send_messages", real_send)
    tasks.tick(now=due + timedelta(minutes=1))
    assert _reminded(mailoutbox) == sorted(u.email for u in crew)


# --- No answer in a task argument, a queued message or a log -------------------------------------


def test_tasks_get_ids_only_and_no_answer_reaches_a_task_or_a_log(
    team, crew, monkeypatch, caplog, django_capture_on_commit_callbacks, admin_client
):
    real_async_task = tasks.async_task
    queued: list[tuple[str, tuple, dict]] = []

    def recording_async_task(func, *args, **kwargs):
        queued.append((func, args, kwargs))
        return real_async_task(func, *args, **kwargs)

    monkeypatch.setattr(tasks, "async_task", recording_async_task)
    campaign = campaign_for([team], reminder_days=[2, 5])
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        services.campaign_open(campaign_id=campaign.pk)
        campaign.refresh_from_db()
        for invitation in campaign.invitations.select_related("campaign__version")[:3]:
            _answer(invitation, text=SECRET)
        admin_client.post(
            "/admin/surveys/campaign/",
            {"action": "send_reminders_now", "_selected_action": campaign.pk, "index": "0"},
        )
        tasks.tick(now=campaign.opened_at + timedelta(days=5, minutes=1))
        services.campaign_close(campaign_id=campaign.pk)
    expected = [
        "surveys.tasks.send_invitations",
        *["surveys.tasks.move_pool"] * 3,  # one per submit: the campaign id, never the answers nor the invitation
        "surveys.tasks.send_reminder_step",
        "surveys.tasks.publish_scores",
    ]
    assert [func for func, _, _ in queued] == expected
    assert [args for func, args, _ in queued if func == "surveys.tasks.move_pool"] == [(campaign.pk,)] * 3
    for _, args, kwargs in queued:
        assert all(type(arg) is int for arg in args)
        assert set(kwargs) <= {"group", "timeout", "save"}  # queue options, not task data
    ran = list(Task.objects.values_list("func", "args", "kwargs"))
    assert {func for func, _, _ in ran} == set(expected) - {"surveys.tasks.move_pool"}  # moves keep no record
    for _, args, kwargs in ran:
        assert all(type(arg) is int for arg in args) and set(kwargs) <= {"group"}
    stored = [repr(row) for row in Task.objects.values()] + [repr(row) for row in OrmQ.objects.values()]
    assert not any(SECRET in row for row in stored)
    assert not any(SECRET in record.getMessage() for record in caplog.records)


def test_a_refused_address_is_recorded_and_skipped_and_the_others_are_sent(team, crew, mailoutbox, monkeypatch):
    campaign = campaign_for([team], reminder_days=[2])
    services.campaign_open(campaign_id=campaign.pk)
    bad = crew[0].email
    real_send = LocmemBackend.send_messages

    def refusing(self, messages):
        if messages[0].to == [bad]:
            raise smtplib.SMTPRecipientsRefused({bad: (550, b"5.1.1 No such user")})
        return real_send(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", refusing)
    tasks.send_invitations(campaign.pk)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in crew[1:])
    refused = campaign.invitations.get(person__email=bad)
    assert refused.email_error == "refused by the mail server: 550 5.1.1 No such user"
    campaign.refresh_from_db()
    tasks.tick(now=campaign.opened_at + timedelta(minutes=5))  # not tried again
    tasks.tick(now=campaign.opened_at + timedelta(days=2, minutes=1))  # the reminder: the others get it
    assert [m.to[0] for m in mailoutbox].count(bad) == 0
    assert len(_reminded(mailoutbox)) == len(crew) - 1
