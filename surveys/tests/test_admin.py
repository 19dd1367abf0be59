"""The surveys admin: templates with their questions, campaigns created and run from it
(schedule, open now, send reminders now, close, preview the form), and what it never shows.

Campaigns are run the way an admin does: posting the list's action form (or the action form
of a campaign's page) with the admin client.
"""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin, messages
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from e360.tests.factories import TeamFactory
from surveys import services, tasks
from surveys.forms import EMPTY_MESSAGE
from surveys.models import Answer, Campaign, Invitation, PooledResponse, Response, Series, Template, TemplateQuestion
from surveys.services import AnswerValue
from surveys.tests.factories import campaign_for, members

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:surveys_campaign_changelist"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def crew(team):
    """Five people of ``team``: enough for k = 3."""
    return members(team, 5)


@pytest.fixture
def dx(db) -> Template:
    return Template.objects.get(slug="developer-experience")


def _messages(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


def _act(client, action: str, *campaigns: Campaign, confirmed: bool = False):
    """Post the campaign list's action form, as the admin's "Run" button does (``confirmed``: as the confirmation
    page does); the messages it left are in ``response.sent``, and shown (so gone) as a browser would show them."""
    data = {"action": action, "_selected_action": [c.pk for c in campaigns], "index": "0"}
    if confirmed:
        data["confirmed"] = "yes"
    response = client.post(reverse(CHANGELIST), data)
    response.sent = _messages(response)
    if response.status_code == 302:
        client.get(response["Location"])
    return response


def _add_data(team, template, **overrides) -> dict:
    opens = (timezone.now() + timedelta(days=1)).astimezone(PARIS).replace(hour=9, minute=0, second=0, microsecond=0)
    closes = opens + timedelta(days=14)
    data = {
        "name": "Developer experience, spring",
        "template": template.pk,
        "teams": [team.pk],
        "time_zone": "Europe/Paris",
        "opens_at_0": opens.date().isoformat(),
        "opens_at_1": "09:00:00",
        "closes_at_0": closes.date().isoformat(),
        "closes_at_1": "18:00:00",
        "recurrence": "none",
        "reminder_days": "2, 5",
        "k": "3",
        "text_threshold": "10",
        "_save": "Save",
    }
    return data | overrides


class _FormFields(HTMLParser):
    """What a browser would post for the form with the given id (submit buttons aside)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str | None, value: str) -> None:
        if name and "__prefix__" not in name:
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file") or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self._add(a.get("name"), a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._add(self._textarea, "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and "__prefix__" not in self._textarea:
            self.data[self._textarea][-1] += data.removeprefix("\n") if not self.data[self._textarea][-1] else data


def _form_data(response, form_id: str) -> dict[str, list[str]]:
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    return parser.data


# --- Templates ---------------------------------------------------------------------------


def _question_rows(data: dict[str, list[str]]) -> dict[str, str]:
    """Question prefix (``questions-3``) by key."""
    return {
        values[0]: name.removesuffix("-key")
        for name, values in data.items()
        if name.startswith("questions-") and name.endswith("-key") and values[0]
    }


def test_a_template_is_built_with_inline_questions(admin_client):
    url = reverse("admin:surveys_template_add")
    data = {
        "name": "Release pulse",
        "slug": "release-pulse",
        "description": "",
        "questions-TOTAL_FORMS": "3",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "30",
        "questions-0-position": "2",
        "questions-0-key": "deploys_easy",
        "questions-0-text": "Deploying is easy.",
        "questions-0-kind": "agreement",
        "questions-0-dimension": "release",
        "questions-0-required": "on",
        "questions-1-position": "1",
        "questions-1-key": "waiting",
        "questions-1-text": "I wait for release windows.",
        "questions-1-kind": "frequency",
        "questions-1-dimension": "release",
        "questions-1-reverse_coded": "on",
        "questions-2-position": "3",
        "questions-2-key": "where",
        "questions-2-text": "Where do you deploy from?",
        "questions-2-kind": "single",
        "questions-2-options": "Laptop\nCI\n\n",
        "_save": "Save",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    template = Template.objects.get(slug="release-pulse")
    questions = list(template.questions.order_by("position"))
    assert [q.key for q in questions] == ["waiting", "deploys_easy", "where"]
    assert questions[0].reverse_coded and questions[1].required and not questions[0].required
    assert questions[2].options == ["Laptop", "CI"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"kind": "text", "reverse_coded": "on"}, "Only a 1–5 question can be reverse-coded."),
        ({"kind": "single", "options": "Only one"}, "A choice question needs at least two options"),
        ({"kind": "multi", "options": "Same\nSame"}, "Options must differ from each other."),
        ({"kind": "agreement", "options": "Yes\nNo"}, "Only a choice question has options."),
    ],
)
def test_a_question_that_makes_no_sense_gets_the_models_error_on_the_form(admin_client, row, message):
    data = {
        "name": "Bad",
        "slug": "bad",
        "questions-TOTAL_FORMS": "1",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "30",
        "questions-0-position": "1",
        "questions-0-key": "q",
        "questions-0-text": "A question",
        "_save": "Save",
    } | {f"questions-0-{name}": value for name, value in row.items()}
    response = admin_client.post(reverse("admin:surveys_template_add"), data)
    assert response.status_code == 200
    assertContains(response, message)
    assert not Template.objects.filter(slug="bad").exists()


def test_two_questions_of_a_template_cannot_share_a_key(admin_client):
    data = {
        "name": "Twice",
        "slug": "twice",
        "questions-TOTAL_FORMS": "2",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "30",
        "_save": "Save",
    }
    for i in range(2):
        data |= {f"questions-{i}-key": "same", f"questions-{i}-text": f"Q{i}", f"questions-{i}-kind": "agreement"}
        data[f"questions-{i}-position"] = str(i)
    response = admin_client.post(reverse("admin:surveys_template_add"), data)
    assert response.status_code == 200
    assertContains(response, "Please correct the duplicate data for key")
    assert not Template.objects.filter(slug="twice").exists()


def test_a_template_has_at_most_30_questions(admin_client):
    data = {
        "name": "Long",
        "slug": "long",
        "questions-TOTAL_FORMS": "31",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "30",
        "_save": "Save",
    }
    for i in range(31):
        data |= {f"questions-{i}-key": f"q{i}", f"questions-{i}-text": f"Q{i}", f"questions-{i}-kind": "agreement"}
        data[f"questions-{i}-position"] = str(i)
    response = admin_client.post(reverse("admin:surveys_template_add"), data)
    assert response.status_code == 200
    assert not Template.objects.filter(slug="long").exists()


def test_editing_a_used_template_in_the_admin_makes_a_new_version_when_the_next_campaign_opens(
    admin_client, team, crew, dx
):
    first = campaign_for([team], name="Wave A")
    _act(admin_client, "open_now", first)
    first.refresh_from_db()
    assert first.version.number == 1

    change = reverse("admin:surveys_template_change", args=[dx.pk])
    page = admin_client.get(change)
    assertContains(page, "v1 — ")
    assertContains(page, "used by 1 campaign")
    data = _form_data(page, "template_form")
    row = _question_rows(data)["ci_cd_flaky"]
    data[f"{row}-text"] = ["Flaky tests cost me time."]
    response = admin_client.post(change, data | {"_save": ["Save"]})
    assert response.status_code == 302
    assert dx.questions.get(key="ci_cd_flaky").text == "Flaky tests cost me time."
    assert dx.versions.count() == 1  # nothing frozen yet: the next opening does it

    second = campaign_for([team], name="Wave B")
    _act(admin_client, "open_now", second)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.version.number == 2
    assert second.version.questions.get(key="ci_cd_flaky").text == "Flaky tests cost me time."
    assert first.version.questions.get(key="ci_cd_flaky").text.startswith("Flaky tests or pipelines")
    page = admin_client.get(change)
    assertContains(page, "v2 — ")


def test_saving_an_unchanged_template_makes_no_new_version(admin_client, team, crew, dx):
    first = campaign_for([team], name="Wave A")
    services.campaign_open(campaign_id=first.pk)
    change = reverse("admin:surveys_template_change", args=[dx.pk])
    response = admin_client.post(change, _form_data(admin_client.get(change), "template_form") | {"_save": ["Save"]})
    assert response.status_code == 302
    second = campaign_for([team], name="Wave B")
    services.campaign_open(campaign_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.version == first.version


# --- Creating campaigns ------------------------------------------------------------------


def test_creating_a_campaign_starts_its_series_with_dates_in_its_time_zone(admin_client, team, crew, dx):
    response = admin_client.post(reverse("admin:surveys_campaign_add"), _add_data(team, dx))
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Developer experience, spring")
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.series.name == campaign.name and campaign.wave == 1
    assert campaign.reminder_days == [2, 5]
    assert list(campaign.teams.all()) == [team]
    opens = campaign.opens_at.astimezone(PARIS)
    assert (opens.hour, opens.minute) == (9, 0)  # 9:00 in Paris, whatever the server's zone
    assert campaign.closes_at.astimezone(PARIS).hour == 18
    # The page shows them back as typed.
    page = admin_client.get(reverse("admin:surveys_campaign_change", args=[campaign.pk]))
    assertContains(page, 'value="09:00:00"')


def test_a_new_campaign_whose_audience_is_too_small_is_saved_with_a_warning(admin_client, team, dx):
    members(team, 2)
    response = admin_client.post(reverse("admin:surveys_campaign_add"), _add_data(team, dx))
    assert response.status_code == 302
    assert (messages.WARNING, "Developer experience, spring could not open as it is: The audience has 2 people, "
            "fewer than k = 3: no answer could stay anonymous.") in _messages(response)  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"k": "2"}, "k", "k must be at least 3: smaller groups would identify people."),
        ({"closes_at_0": "2000-01-01"}, "closes_at", "A campaign must close after it opens."),
        ({"text_threshold": "4", "k": "5"}, "text_threshold", "The text threshold cannot be below k."),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone 'Mars/Olympus'; use a name such as"),
        ({"reminder_days": "1, 2, 3, 4"}, "reminder_days", "At most 3 reminders."),
        ({"reminder_days": "two, five"}, "reminder_days", "Write whole days after opening, separated by commas"),
        ({"reminder_days": "2, 2"}, "reminder_days", "Each reminder day once."),
        ({"reminder_days": "0"}, "reminder_days", "Day 0 is the day the campaign opens"),
        ({"reminder_days": "20"}, "reminder_days", "Day 20 comes after the campaign closes"),
        ({"teams": []}, "teams", "The audience is empty: choose at least one team, or everyone."),
        ({"everyone": "on"}, "teams", "Choose teams or everyone, not both"),
    ],
)
def test_an_invalid_set_up_gets_a_clear_error_and_creates_nothing(admin_client, team, dx, overrides, field, message):
    response = admin_client.post(reverse("admin:surveys_campaign_add"), _add_data(team, dx, **overrides))
    assert response.status_code == 200
    assert any(message in error for error in response.context["adminform"].form.errors[field])
    assertContains(response, message.replace("'", "&#x27;"))
    assert not Campaign.objects.exists() and not Series.objects.exists()


def test_a_campaign_cannot_be_set_to_close_in_the_past(admin_client, team, dx):
    past = timezone.now() - timedelta(days=1)
    data = _add_data(
        team,
        dx,
        opens_at_0=(past - timedelta(days=3)).date().isoformat(),
        closes_at_0=past.astimezone(PARIS).date().isoformat(),
    )
    response = admin_client.post(reverse("admin:surveys_campaign_add"), data)
    assert response.status_code == 200
    assertContains(response, "This moment has passed: a campaign must close in the future.")


def test_everyone_is_an_audience(admin_client, team, crew, dx):
    response = admin_client.post(reverse("admin:surveys_campaign_add"), _add_data(team, dx, teams=[], everyone="on"))
    assert response.status_code == 302
    assert Campaign.objects.get().everyone


# --- Running campaigns -------------------------------------------------------------------


def test_schedule_turns_a_draft_into_a_scheduled_campaign_that_tick_opens_on_time(admin_client, team, crew, dx):
    admin_client.post(reverse("admin:surveys_campaign_add"), _add_data(team, dx), follow=True)
    campaign = Campaign.objects.get()
    response = _act(admin_client, "schedule", campaign)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    level, text = response.sent[0]
    assert level == messages.SUCCESS
    assert text.startswith(f"{campaign} is scheduled: it opens on ") and text.endswith(("CET.", "CEST."))
    tasks.tick(now=campaign.opens_at - timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    tasks.tick(now=campaign.opens_at)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN and campaign.invitations.count() == 5


def test_schedule_refuses_an_audience_smaller_than_k_and_changes_nothing(admin_client, team):
    members(team, 2)
    campaign = campaign_for([team], opens_at=timezone.now() + timedelta(days=1))
    response = _act(admin_client, "schedule", campaign)
    assert response.sent == [
        (messages.ERROR, "The audience has 2 people, fewer than k = 3: no answer could stay anonymous.")
    ]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_a_scheduled_campaign_goes_back_to_draft(admin_client, team, crew):
    campaign = campaign_for([team], opens_at=timezone.now() + timedelta(days=1))
    services.campaign_schedule(campaign_id=campaign.pk)
    _act(admin_client, "back_to_draft", campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    tasks.tick(now=campaign.opens_at + timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT  # a draft never opens by itself


def test_open_now_invites_the_audience_and_emails_them(
    admin_client, team, crew, mailoutbox, django_capture_on_commit_callbacks
):
    campaign = campaign_for([team], opens_at=timezone.now() + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "open_now", campaign)
    assert response.sent == [
        (messages.SUCCESS, f"{campaign} is open: 5 people are invited, and their emails are on their way.")
    ]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    assert campaign.opens_at <= timezone.now()  # opened early: its opening moves to now
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in crew)
    assert not Invitation.objects.filter(emailed_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (0, "The audience is empty: choose teams with active members, or everyone."),
        (2, "The audience has 2 people, fewer than k = 3: no answer could stay anonymous."),
    ],
)
def test_open_now_says_why_an_audience_cannot_open_and_changes_nothing(admin_client, size, message, mailoutbox):
    lonely = TeamFactory(slug="lonely", name="Lonely")
    members(lonely, size)
    campaign = campaign_for([lonely])
    response = _act(admin_client, "open_now", campaign)
    assert response.sent == [(messages.ERROR, f"{campaign} did not open. {message}")]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and campaign.version is None
    assert not Invitation.objects.exists() and not mailoutbox


def test_open_now_on_an_open_campaign_changes_nothing(admin_client, team, crew):
    campaign = campaign_for([team])
    services.campaign_open(campaign_id=campaign.pk)
    response = _act(admin_client, "open_now", campaign)
    assert response.sent[0][0] == messages.WARNING
    assert Invitation.objects.count() == 5


def _open(team, **fields) -> Campaign:
    """Open, invitations emailed (and out of the outbox)."""
    campaign = campaign_for([team], **fields)
    services.campaign_open(campaign_id=campaign.pk)
    tasks.send_invitations(campaign.pk)
    mail.outbox.clear()
    campaign.refresh_from_db()
    return campaign


def _answer(invitation: Invitation) -> None:
    question = invitation.campaign.version.questions.get(key="ci_cd_flaky")
    services.response_submit(invitation=invitation, answers={question.pk: AnswerValue(number=4)})


def test_send_reminders_now_sends_the_next_step_once_to_who_has_not_answered(
    admin_client, team, crew, mailoutbox, django_capture_on_commit_callbacks
):
    campaign = _open(team, reminder_days=[2, 5])
    answered = campaign.invitations.select_related("person", "campaign__version").first()
    _answer(answered)
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "send_reminders_now", campaign)
    assert response.sent == [
        (
            messages.SUCCESS,
            f"{campaign}: reminder 1 of 2 is on its way to the 4 people who have not answered.",
        )
    ]
    reminded = sorted(m.to[0] for m in mailoutbox)
    assert len(reminded) == 4 and answered.person.email not in reminded
    assert all(m.subject.startswith("Reminder: ") for m in mailoutbox)
    # The plan's first step is due on day 2: it was sent already, so the tick sends nothing then.
    mailoutbox.clear()
    tasks.tick(now=campaign.opened_at + timedelta(days=2, minutes=1))
    assert not mailoutbox
    # Again: the plan's second step, now.
    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "send_reminders_now", campaign)
    assert len(mailoutbox) == 4
    # The plan is spent: a clear error, and nothing sent.
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "send_reminders_now", campaign)
    assert response.sent == [
        (
            messages.ERROR,
            f"{campaign}: all 2 reminders of its plan were sent; add a reminder day to send another.",
        )
    ]
    assert not mailoutbox
    tasks.tick(now=campaign.opened_at + timedelta(days=5, minutes=1))
    assert not mailoutbox


def test_send_reminders_now_twice_before_the_worker_ran_sends_the_step_once(
    admin_client, team, crew, mailoutbox, django_capture_on_commit_callbacks
):
    campaign = _open(team, reminder_days=[2, 5])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        _act(admin_client, "send_reminders_now", campaign)
        _act(admin_client, "send_reminders_now", campaign)  # the worker has not run: still step 1
    for callback in queued:
        callback()
    assert len(mailoutbox) == 5
    assert set(campaign.invitations.values_list("reminders_sent", flat=True)) == {1}


def test_send_reminders_now_refuses_a_closed_campaign_or_one_without_a_plan(admin_client, team, crew, mailoutbox):
    planless = _open(team, name="No plan")
    response = _act(admin_client, "send_reminders_now", planless)
    assert response.sent == [
        (messages.ERROR, "No plan has no reminder plan: add reminder days (e.g. 2, 5) to send reminders.")
    ]
    closed = _open(team, name="Done", reminder_days=[2])
    services.campaign_close(campaign_id=closed.pk)
    response = _act(admin_client, "send_reminders_now", closed)
    assert response.sent == [(messages.ERROR, "Done is not open: reminders are sent only while a campaign is open.")]
    assert not mailoutbox


def test_close_publishes_and_schedules_the_next_wave_of_a_recurring_campaign(admin_client, team, crew):
    campaign = _open(team, recurrence=Campaign.Recurrence.MONTHLY, time_zone="Europe/Paris")
    _answer(campaign.invitations.select_related("campaign__version").first())
    response = _act(admin_client, "close", campaign, confirmed=True)  # 1 of 5 answered: confirmed
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED
    following = Campaign.objects.get(series=campaign.series, wave=2)
    assert following.status == Campaign.Status.SCHEDULED
    sent = response.sent
    assert sent[0] == (messages.SUCCESS, f"{campaign} is closed: 1 of 5 answered; results are published.")
    assert sent[1][0] == messages.INFO and sent[1][1].startswith(f"{following} is scheduled to open on ")


def test_closing_with_fewer_than_k_answers_in_most_groups_asks_first_and_says_what_will_be_hidden(
    admin_client, team, crew
):
    campaign = _open(team)
    _answer(campaign.invitations.select_related("campaign__version").first())

    response = _act(admin_client, "close", campaign)

    assert response.status_code == 200 and response.sent == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN  # nothing closed yet
    assertContains(response, "2 groups have fewer than 3 answers so far")
    assertContains(response, "<li>Whole organisation: 1 of 5 answered</li>", html=True)
    assertContains(response, f"<li>{team.name}: 1 of 5 answered</li>", html=True)
    assertContains(response, "fewer than 3 responses")
    for user in crew:  # participation counts only, never who answered
        assertNotContains(response, user.person.name)
    # The page posts the action again, confirmed.
    page = _Inputs(response.content.decode())
    assert ("confirmed", "yes") in page.hidden and ("action", "close") in page.hidden
    assert ("_selected_action", str(campaign.pk)) in page.hidden
    confirmed = admin_client.post(reverse(CHANGELIST), dict(page.hidden))
    assert confirmed.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED
    assert _messages(confirmed)[0] == (
        messages.SUCCESS,
        f"{campaign} is closed: 1 of 5 answered; results are published.",
    )


def test_closing_with_k_answers_in_most_groups_closes_at_once(admin_client, team, crew):
    campaign = _open(team)
    for invitation in campaign.invitations.select_related("campaign__version")[:3]:
        _answer(invitation)

    response = _act(admin_client, "close", campaign)

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED


def test_closing_from_a_campaigns_page_asks_first_too(admin_client, team, crew):
    campaign = _open(team)
    change = reverse("admin:surveys_campaign_change", args=[campaign.pk])

    response = admin_client.post(change, {"CHANGE_FORM-action": "close", "_selected_action": campaign.pk, "index": "0"})

    assertContains(response, "<li>Whole organisation: 0 of 5 answered</li>", html=True)
    page = _Inputs(response.content.decode())
    assert page.action == change
    assert admin_client.post(change, dict(page.hidden))["Location"] == change
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED


class _Inputs(HTMLParser):
    """The confirmation form's action and hidden inputs."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hidden: list[tuple[str, str]] = []
        self.action = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method") == "post":
            self.action = attrs.get("action", "")
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") != "csrfmiddlewaretoken":
            self.hidden.append((attrs["name"], attrs.get("value", "")))


def test_close_refuses_a_campaign_that_is_not_open(admin_client, team, crew):
    draft = campaign_for([team])
    response = _act(admin_client, "close", draft)
    assert response.sent == [(messages.ERROR, f"{draft} is draft: only an open campaign closes.")]
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT


def test_the_actions_run_from_a_campaigns_page_too(admin_client, team, crew):
    campaign = campaign_for([team])
    change = reverse("admin:surveys_campaign_change", args=[campaign.pk])
    response = admin_client.post(
        change, {"CHANGE_FORM-action": "open_now", "_selected_action": campaign.pk, "index": "0"}
    )
    assert response.status_code == 302 and response["Location"] == change
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN


def test_the_whole_flow_runs_from_the_admin(
    admin_client, team, crew, dx, mailoutbox, django_capture_on_commit_callbacks
):
    """Create, schedule, opened on time, remind, close: reminders exactly once per step."""
    opens = (timezone.now() - timedelta(hours=1)).astimezone(PARIS)
    data = _add_data(team, dx, opens_at_0=opens.date().isoformat(), opens_at_1=opens.strftime("%H:%M:00"))
    admin_client.post(reverse("admin:surveys_campaign_add"), data, follow=True)
    campaign = Campaign.objects.get()
    response = _act(admin_client, "schedule", campaign)
    assert response.sent == [(messages.SUCCESS, f"{campaign} is scheduled: it opens within a minute.")]
    tasks.tick()  # the schedule's next minute
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    assert len(mailoutbox) == 5 and not any(m.subject.startswith("Reminder") for m in mailoutbox)
    _answer(campaign.invitations.select_related("campaign__version").first())
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "send_reminders_now", campaign)
    assert len(mailoutbox) == 4
    tasks.tick(now=campaign.opened_at + timedelta(days=2, hours=1))  # step 1 of the plan: sent already
    assert len(mailoutbox) == 4
    tasks.tick(now=campaign.opened_at + timedelta(days=5, hours=1))  # step 2
    assert len(mailoutbox) == 8
    _act(admin_client, "close", campaign, confirmed=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED and Response.objects.filter(campaign=campaign).count() == 1
    page = admin_client.get(reverse(CHANGELIST))
    assertContains(page, "Closed")
    assertContains(page, "20%")


# --- The campaign's pages ----------------------------------------------------------------


def test_the_list_shows_status_and_participation_in_a_fixed_number_of_queries(
    admin_client, team, crew, django_assert_max_num_queries
):
    campaign = _open(team)
    _answer(campaign.invitations.select_related("campaign__version").first())
    url = reverse(CHANGELIST)
    with django_assert_max_num_queries(12) as one:
        response = admin_client.get(url)
    assertContains(response, '<td class="field-participation_rate">20%</td>', html=True)
    for n in range(5):
        campaign_for([team], name=f"Other {n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        admin_client.get(url)


def test_an_open_campaign_keeps_its_audience_template_and_k_but_can_close_later(admin_client, team, crew):
    campaign = _open(team, reminder_days=[2])
    change = reverse("admin:surveys_campaign_change", args=[campaign.pk])
    page = admin_client.get(change)
    form = page.context["adminform"].form
    assert set(form.fields) == {"name", "closes_at", "recurrence", "reminder_days"}
    later = campaign.closes_at + timedelta(days=3)
    data = _form_data(page, "campaign_form")
    data.pop("CHANGE_FORM-action", None)
    data["closes_at_0"] = [later.date().isoformat()]
    response = admin_client.post(change, data | {"_save": ["Save"]})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.closes_at.date() == later.date() and campaign.k == 3


def test_an_open_campaigns_moments_show_in_its_time_zone(admin_client, team, crew):
    opens = timezone.now().astimezone(PARIS).replace(hour=9, minute=30, second=0, microsecond=0) - timedelta(days=1)
    campaign = campaign_for([team], opens_at=opens, time_zone="Europe/Paris")
    services.campaign_open(campaign_id=campaign.pk, now=opens)
    page = admin_client.get(reverse("admin:surveys_campaign_change", args=[campaign.pk]))
    opens_row = page.context["adminform"].form.instance.opens_at
    assert opens_row == opens
    assertContains(page, "9:30")  # the read-only opening, in Paris


def test_delete_selected_refuses_an_open_campaign(admin_client, team, crew):
    campaign = _open(team)
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": campaign.pk, "post": "yes"}
    )
    assert response.status_code == 403  # it holds invitations and responses: never deleted
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_a_closed_campaign_is_read_only_and_an_open_one_cannot_be_deleted(admin_client, team, crew):
    campaign = _open(team)
    delete = reverse("admin:surveys_campaign_delete", args=[campaign.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    services.campaign_close(campaign_id=campaign.pk)
    page = admin_client.get(reverse("admin:surveys_campaign_change", args=[campaign.pk]))
    assert not page.context["adminform"].form.fields
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_the_preview_renders_the_template_questions_of_a_draft_and_the_frozen_ones_once_open(
    admin_client, team, crew, dx
):
    campaign = campaign_for([team])
    url = reverse("admin:surveys_campaign_preview", args=[campaign.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assertContains(page, "Flaky tests or pipelines cost me time most weeks.")
    assertContains(page, "the template's current questions")
    assertContains(page, 'type="radio"', count=5 * 19 + 11)  # 19 likert items, one eNPS
    assertNotContains(page, "Send my answers")
    services.campaign_open(campaign_id=campaign.pk)
    TemplateQuestion.objects.filter(template=dx, key="ci_cd_flaky").update(text="Changed after opening.")
    page = admin_client.get(url)
    assertContains(page, "Flaky tests or pipelines cost me time most weeks.")
    assertNotContains(page, "Changed after opening.")
    assertContains(page, "frozen as version 1")


def test_the_preview_checks_answers_and_stores_nothing(admin_client, team, crew, dx):
    dx.questions.exclude(key="enps_team").update(required=False)
    campaign = _open(team)
    url = reverse("admin:surveys_campaign_preview", args=[campaign.pk])
    response = admin_client.post(url, {})
    assert response.status_code == 200
    enps = campaign.version.questions.get(key="enps_team")
    assert list(response.context["form"].errors) == [f"q{enps.pk}"]
    assertContains(response, "Respondents would see these messages. Nothing was stored.")
    response = admin_client.post(url, {f"q{enps.pk}": "9"})
    assertContains(response, "These answers would be accepted. Nothing was stored.")
    assert not Response.objects.exists() and not Answer.objects.exists()
    assert not Invitation.objects.filter(responded=True).exists()


def test_the_preview_says_an_empty_form_is_not_an_answer(admin_client, team, crew, dx):
    dx.questions.update(required=False)
    campaign = campaign_for([team])
    url = reverse("admin:surveys_campaign_preview", args=[campaign.pk])
    response = admin_client.post(url, {})
    assert response.context["form"].non_field_errors() == [EMPTY_MESSAGE]
    assertContains(response, "No answer was given")
    assertContains(response, "Respondents would see these messages. Nothing was stored.")


def test_the_preview_is_for_staff_only(client, teammate, team, crew):
    campaign = campaign_for([team])
    url = reverse("admin:surveys_campaign_preview", args=[campaign.pk])
    client.force_login(teammate)
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.logout()
    assert client.get(url).status_code == 302


def test_the_preview_action_opens_the_preview_of_one_campaign(admin_client, team, crew):
    one, two = campaign_for([team], name="One"), campaign_for([team], name="Two")
    response = _act(admin_client, "preview", one)
    assert response["Location"] == reverse("admin:surveys_campaign_preview", args=[one.pk])
    response = _act(admin_client, "preview", one, two)
    assert response.sent == [(messages.ERROR, "Choose one campaign to preview.")]


def test_a_missing_campaign_preview_is_404(admin_client):
    response = admin_client.get(reverse("admin:surveys_campaign_preview", args=[999]))
    assert response.status_code == 404


def test_a_template_preview_shows_its_current_questions(admin_client, dx):
    response = admin_client.get(reverse("admin:surveys_template_preview", args=[dx.pk]))
    assertContains(response, "What slows you down the most right now?")


# --- What the admin never shows ----------------------------------------------------------


def test_responses_and_answers_are_not_in_the_admin():
    assert not admin.site.is_registered(Response)
    assert not admin.site.is_registered(Answer)
    assert not admin.site.is_registered(PooledResponse)  # answers waiting to become responses


def test_invitations_are_read_only_and_show_no_answer(admin_client, team, crew):
    campaign = _open(team)
    invitation = campaign.invitations.select_related("campaign__version").first()
    question = campaign.version.questions.get(key="open_slows_you")
    services.response_submit(invitation=invitation, answers={question.pk: AnswerValue(text="zebra-4417")})
    listing = admin_client.get(reverse("admin:surveys_invitation_changelist"))
    assert listing.status_code == 200
    change = reverse("admin:surveys_invitation_change", args=[invitation.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and not page.context["adminform"].form.fields
    for response in (listing, page):
        assertNotContains(response, "zebra-4417")
        assertNotContains(response, "/response/")
    assert admin_client.post(change, {"responded": ""}).status_code == 403
    invitation.refresh_from_db()
    assert invitation.responded
    assert admin_client.get(reverse("admin:surveys_invitation_add")).status_code == 403


def test_the_invitations_never_say_who_answered(admin_client, team, crew):
    campaign = _open(team)
    answered = campaign.invitations.select_related("person", "campaign__version").order_by("pk").first()
    _answer(answered)
    listing = admin_client.get(reverse("admin:surveys_invitation_changelist"))
    assert listing.status_code == 200
    page = admin_client.get(reverse("admin:surveys_invitation_change", args=[answered.pk]))
    for response in (listing, page):
        for column in ("Responded", "responded", "Reminders sent", "answered"):
            assertNotContains(response, column)
    # Nor through a filter, an ordering or a lookup in the URL.
    changelist = reverse("admin:surveys_invitation_changelist")
    for query in ("responded__exact=1", "responded=1", "responded_on__isnull=False", "reminders_sent__lt=1"):
        assert admin_client.get(f"{changelist}?{query}").status_code == 400, query
    # What the admin sees instead: answered counts per team, as the results pages show them.
    page = admin_client.get(reverse("admin:surveys_campaign_change", args=[campaign.pk]))
    assertContains(page, "Answered per team")
    assertContains(page, "<td>1 of 5</td>", html=False)
    services.campaign_close(campaign_id=campaign.pk)  # closed: the published participation, the same counts
    assertContains(admin_client.get(reverse("admin:surveys_campaign_change", args=[campaign.pk])), "<td>1 of 5</td>")


def test_a_series_lists_its_waves(admin_client, team, crew):
    campaign = _open(team, recurrence=Campaign.Recurrence.QUARTERLY)
    services.campaign_close(campaign_id=campaign.pk)
    page = admin_client.get(reverse("admin:surveys_series_change", args=[campaign.series_id]))
    assertContains(page, f"{campaign.name}</a> — closed")
    assertContains(page, "wave 2</a> — scheduled")
    assert admin_client.get(reverse("admin:surveys_series_add")).status_code == 403


@pytest.mark.parametrize(("invited", "responded", "shown"), [(8, 1, "13%"), (8, 3, "38%"), (5, 1, "20%"), (0, 0, "—")])
def test_participation_is_rounded_as_the_results_pages_round_it(invited, responded, shown):
    # 1 of 8 is 12.5%: the results pages' floatformat reads 13%, and so must the admin (round() said 12%).
    campaign = Campaign(name="Pulse")
    campaign.invited, campaign.responded = invited, responded
    assert admin.site._registry[Campaign].participation_rate(campaign) == shown
