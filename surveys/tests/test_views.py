"""Answering: my surveys, the one-page form, the thanks page, the home page's banner.

``campaign`` (conftest) is open, has one question of every kind and invites ``team``:
``teammate`` (bob) answers in these tests; ``outsider`` (charlie) is not invited.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, models
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, empty
from django.views.debug import ExceptionReporter
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from e360.models import Person, User
from e360.tests.factories import UserFactory
from surveys import services
from surveys.context_processors import open_surveys
from surveys.forms import AGREEMENT, EMPTY_MESSAGE, FREQUENCY
from surveys.models import Answer, Campaign, Invitation, Kind, PooledResponse, Response
from surveys.tests.factories import EVERY_KIND, campaign_for, make_template, members, open_campaign
from surveys.tests.stored import nothing_stored, stored, stored_count

pytestmark = pytest.mark.django_db

SECRET_TEXT = "The flaky checkout suite, zebra-7731"
SECRET_OPTION = "Local setup"


def answer_url(campaign: Campaign) -> str:
    return reverse("surveys:answer", args=[campaign.pk])


def thanks_url(campaign: Campaign) -> str:
    return reverse("surveys:thanks", args=[campaign.pk])


def names(campaign: Campaign) -> dict[str, str]:
    """Form field names by question key."""
    return {q.key: f"q{q.pk}" for q in campaign.version.questions.all()}


def full_answers(campaign: Campaign) -> dict:
    n = names(campaign)
    return {
        n["ci_feedback"]: "4",
        n["interruptions"]: "2",
        n["enps"]: "9",
        n["role"]: "Platform",
        n["slowed"]: ["CI", SECRET_OPTION],
        n["open"]: SECRET_TEXT,
    }


def invitation_of(user: User, campaign: Campaign) -> Invitation:
    return Invitation.objects.get(person__user=user, campaign=campaign)


class Element:
    def __init__(self, tag: str, attrs: dict, parents: list[Element]) -> None:
        self.tag, self.attrs, self.parents, self.text = tag, attrs, parents, ""

    def within(self, tag: str) -> Element | None:
        return next((p for p in reversed(self.parents) if p.tag == tag), None)


class Page(HTMLParser):
    """Every element of a page with its ancestors: enough to check how inputs are grouped and labelled."""

    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), list(self.open))
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data):
        for element in self.open:
            element.text += data

    def find(self, tag: str, **attrs) -> list[Element]:
        return [
            e for e in self.elements if e.tag == tag and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]


def page_of(response) -> Page:
    return Page(response.content.decode())


# --- My surveys ----------------------------------------------------------------------------------


class TestMySurveys:
    def test_it_requires_sign_in(self, client, campaign):
        response = client.get(reverse("surveys:mine"))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_it_lists_surveys_to_answer_answered_and_closed(self, client, team, teammate, campaign):
        answered = open_campaign([team], template="every-kind", name="Answered pulse")
        services.response_submit(invitation=invitation_of(teammate, answered), answers={})
        closed = open_campaign([team], template="every-kind", name="Last quarter")
        services.campaign_close(campaign_id=closed.pk)
        campaign_for([team], template="every-kind", name="A draft")
        scheduled = campaign_for([team], template="every-kind", name="Not yet")
        Campaign.objects.filter(pk=scheduled.pk).update(status=Campaign.Status.SCHEDULED)
        client.force_login(teammate)

        response = client.get(reverse("surveys:mine"))

        assert response.status_code == 200
        assert [i.campaign.name for i in response.context["to_answer"]] == ["Developer pulse"]
        assert [i.campaign.name for i in response.context["answered"]] == ["Answered pulse"]
        assert [i.campaign.name for i in response.context["closed"]] == ["Last quarter"]
        assertContains(response, f'<a href="{answer_url(campaign)}">Developer pulse</a>', html=True)
        assertNotContains(response, f'href="{answer_url(answered)}"')  # nothing left to do there
        assertNotContains(response, "A draft")
        assertNotContains(response, "Not yet")

    def test_it_says_how_many_people_a_group_needs_from_the_campaigns_k(self, client, team, teammate, campaign):
        client.force_login(teammate)
        assert campaign.k == 3
        assertContains(client.get(reverse("surveys:mine")), "only for groups of at least 3 people.")
        Campaign.objects.filter(pk=campaign.pk).update(k=5)
        open_campaign([team], template="every-kind", name="Stricter pulse", k=4)

        response = client.get(reverse("surveys:mine"))

        assertContains(response, "only for groups of at least 4 people.")  # true of each listed survey
        assertNotContains(response, "at least k")

    def test_with_no_survey_it_says_what_a_group_needs_without_a_number_it_cannot_know(self, client, outsider):
        client.force_login(outsider)

        response = client.get(reverse("surveys:mine"))

        assertContains(response, "only for groups of at least as many people as each survey sets (never fewer than 3).")

    def test_an_open_survey_past_its_closing_time_is_listed_as_closed(self, client, teammate, campaign):
        Campaign.objects.filter(pk=campaign.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
        client.force_login(teammate)

        response = client.get(reverse("surveys:mine"))

        assert response.context["to_answer"] == []
        assert [i.campaign for i in response.context["closed"]] == [campaign]

    def test_an_outsider_sees_none_of_another_teams_surveys(self, client, outsider, campaign):
        client.force_login(outsider)

        response = client.get(reverse("surveys:mine"))

        assert response.status_code == 200
        assertNotContains(response, "Developer pulse")
        assertContains(response, "No survey is waiting for your answers.")

    def test_a_user_without_a_person_is_told_why(self, client, campaign):
        client.force_login(UserFactory(username="loner"))

        response = client.get(reverse("surveys:mine"))

        assert response.status_code == 200
        assertContains(response, "Your account is not linked to a person in the catalog yet")
        assertNotContains(response, "Developer pulse")

    def test_its_queries_do_not_grow_with_the_number_of_surveys(
        self, client, team, teammate, campaign, django_assert_num_queries, django_assert_max_num_queries
    ):
        client.force_login(teammate)
        with django_assert_max_num_queries(6) as one:
            client.get(reverse("surveys:mine"))
        for n in range(4):
            open_campaign([team], template="every-kind", name=f"Wave {n}")
        with django_assert_num_queries(len(one.captured_queries)):
            response = client.get(reverse("surveys:mine"))
        assert len(response.context["to_answer"]) == 5


# --- The form -----------------------------------------------------------------------------------


class TestTheForm:
    def test_it_renders_every_kind_of_question(self, client, teammate, campaign):
        client.force_login(teammate)
        n = names(campaign)

        response = client.get(answer_url(campaign))

        assert response.status_code == 200
        page = page_of(response)

        def options(name: str, kind: str = "radio") -> list[tuple[str, str]]:
            inputs = page.find("input", name=name)
            assert inputs and all(i.attrs["type"] == kind for i in inputs)
            return [(i.attrs["value"], " ".join(i.within("label").text.split())) for i in inputs]

        assert options(n["ci_feedback"]) == [(str(v), label) for v, label in enumerate(AGREEMENT, 1)]
        assert options(n["interruptions"]) == [(str(v), label) for v, label in enumerate(FREQUENCY, 1)]
        enps = options(n["enps"])
        assert [value for value, _ in enps] == [str(v) for v in range(11)]
        assert enps[0][1] == "0 (not at all likely)" and enps[10][1] == "10 (extremely likely)"
        assert [label for _, label in enps[1:10]] == [str(v) for v in range(1, 10)]
        assertContains(response, "0 means not at all likely, 10 extremely likely.")
        assert options(n["role"]) == [(o, o) for o in ["Backend", "Frontend", "Platform", "Other"]]
        assert options(n["slowed"], "checkbox") == [(o, o) for o in ["CI", "Code review", "Local setup", "Deploys"]]
        (textarea,) = page.find("textarea", name=n["open"])
        assert textarea.attrs["maxlength"] == "2000"
        assertContains(response, "Up to 2,000 characters.")

    def test_each_question_is_a_fieldset_with_a_legend_and_labels_wrap_the_inputs(self, client, teammate, campaign):
        client.force_login(teammate)

        page = page_of(client.get(answer_url(campaign)))

        fieldsets = page.find("fieldset")
        assert len(fieldsets) == 6
        legends = page.find("legend")
        assert [legend.within("fieldset") for legend in legends] == fieldsets
        assert "Our CI pipeline gives me fast, trustworthy feedback." in legends[0].text
        answers = [e for e in page.elements if e.tag in ("input", "textarea") and e.attrs.get("name", "")[:1] == "q"]
        assert len(answers) == 5 + 5 + 11 + 4 + 4 + 1
        for element in answers:
            assert element.within("label") is not None, element.attrs
            assert element.within("fieldset") is not None, element.attrs

    def test_required_questions_say_so_in_words_and_in_attributes(self, client, teammate, campaign):
        client.force_login(teammate)
        n = names(campaign)

        page = page_of(client.get(answer_url(campaign)))

        legends = page.find("legend")
        required = {legend.within("fieldset").attrs["id"] for legend in legends if "(required)" in legend.text}
        assert required == {f"id_{n[key]}_group" for key in ("ci_feedback", "enps", "slowed")}
        for key, expected in [("ci_feedback", True), ("enps", True), ("interruptions", False), ("role", False)]:
            assert all(("required" in i.attrs) is expected for i in page.find("input", name=n[key])), key
        # A required attribute on checkboxes would demand every box: the legend says it instead.
        assert not any("required" in i.attrs for i in page.find("input", name=n["slowed"]))
        assertContains(response := client.get(answer_url(campaign)), "you may skip any other")
        assert response.status_code == 200

    def test_a_required_text_question_is_required_for_screen_readers_too(self, client, team, teammate, invitees):
        make_template("essay", [("why", "Why?", Kind.TEXT, True, [])])
        campaign = open_campaign([team], template="essay")
        client.force_login(teammate)

        page = page_of(client.get(answer_url(campaign)))

        (textarea,) = page.find("textarea")
        assert "required" in textarea.attrs
        assert textarea.within("label") is not None
        assert textarea.attrs["aria-describedby"] == f"{textarea.attrs['id']}_helptext"

    def test_the_form_is_never_cached(self, client, teammate, campaign):
        client.force_login(teammate)

        response = client.get(answer_url(campaign))

        assert "no-store" in response["Cache-Control"]

    def test_it_requires_sign_in(self, client, campaign):
        response = client.get(answer_url(campaign))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


# --- Submitting ---------------------------------------------------------------------------------


class TestSubmitting:
    def test_a_valid_submission_stores_one_anonymous_response_and_shows_the_thanks_page(
        self, client, teammate, campaign
    ):
        client.force_login(teammate)

        response = client.post(answer_url(campaign), full_answers(campaign))

        assertRedirects(response, thanks_url(campaign))
        (pooled,) = campaign.pooled.all()  # moved into a response with others later (rule 1)
        invitation = invitation_of(teammate, campaign)
        assert pooled.label_id == invitation.label_id
        assert stored(campaign) == {
            "ci_feedback": (4, None, ""),
            "interruptions": (2, None, ""),
            "enps": (9, None, ""),
            "role": (None, ["Platform"], ""),
            "slowed": (None, ["CI", SECRET_OPTION], ""),
            "open": (None, None, SECRET_TEXT),
        }
        assert invitation.responded
        assert invitation.responded_on == timezone.now().astimezone(ZoneInfo(campaign.time_zone)).date()
        thanks = client.get(thanks_url(campaign))
        assert thanks.status_code == 200
        assertContains(thanks, "Your answers to <strong>Developer pulse</strong> are saved")

    def test_questions_not_marked_required_may_be_skipped(self, client, teammate, campaign):
        client.force_login(teammate)
        n = names(campaign)

        response = client.post(
            answer_url(campaign), {n["ci_feedback"]: "1", n["enps"]: "0", n["slowed"]: "Deploys", n["open"]: "   "}
        )

        assertRedirects(response, thanks_url(campaign))
        assert stored(campaign) == {
            "ci_feedback": (1, None, ""),
            "enps": (0, None, ""),
            "slowed": (None, ["Deploys"], ""),
        }

    def test_missing_required_answers_are_refused_with_a_summary_and_inline_errors(self, client, teammate, campaign):
        client.force_login(teammate)
        n = names(campaign)

        response = client.post(
            answer_url(campaign), {n["interruptions"]: "5", n["role"]: "Backend", n["open"]: SECRET_TEXT}
        )

        assert response.status_code == 422
        assert nothing_stored() and not invitation_of(teammate, campaign).responded
        page = page_of(response)
        assert page.find("title")[0].text.startswith("Error: ")
        (summary,) = page.find("div", id="error-summary")
        assert summary.attrs["tabindex"] == "-1" and "autofocus" in summary.attrs
        links = [a for a in page.find("a") if summary in a.parents]
        assert [a.attrs["href"] for a in links] == [f"#id_{n[k]}_0" for k in ("ci_feedback", "enps", "slowed")]
        for key in ("ci_feedback", "enps", "slowed"):
            (error,) = page.find("p", id=f"id_{n[key]}_error")
            assert "needs" in error.text
            (group,) = page.find("fieldset", id=f"id_{n[key]}_group")
            assert f"id_{n[key]}_error" in group.attrs["aria-describedby"].split()
            assert error.within("fieldset") is group
            assert page.find("input", id=f"id_{n[key]}_0")[0].attrs.get("aria-invalid") == "true"
        assert page.find("p", id=f"id_{n['interruptions']}_error") == []
        # The answers given are kept.
        assert "checked" in page.find("input", name=n["interruptions"], value="5")[0].attrs
        assert "checked" in page.find("input", name=n["role"], value="Backend")[0].attrs
        # (an HTML parser drops the newline that opens a textarea)
        assert page.find("textarea", name=n["open"])[0].text.removeprefix("\n") == SECRET_TEXT

    def test_an_empty_post_is_checked_like_any_other(self, client, teammate, campaign):
        client.force_login(teammate)

        response = client.post(answer_url(campaign), {})

        assert response.status_code == 422
        assert len(response.context["form"].errors) == 3
        assert nothing_stored()

    def test_an_empty_form_of_a_shipped_template_is_refused_and_the_invitation_stays_open(
        self, client, team, teammate, invitees
    ):
        dx = open_campaign([team], name="Developer experience")  # the shipped template, its core questions required
        client.force_login(teammate)

        response = client.post(answer_url(dx), {})

        assert response.status_code == 422
        assert nothing_stored() and not invitation_of(teammate, dx).responded
        required = set(dx.version.questions.filter(required=True).values_list("key", flat=True))
        assert len(required) == 10  # one 1–5 item per dimension (nine) and the eNPS
        assert {names(dx)[key] for key in required} == set(response.context["form"].errors)
        assertContains(response, "Choose an answer: this question needs one.", count=10 + 10, status_code=422)
        assert client.get(answer_url(dx)).status_code == 200  # still there to answer, not "answered"

    def test_a_missing_core_question_of_a_shipped_template_is_shown_inline(self, client, team, teammate, invitees):
        dx = open_campaign([team], name="Developer experience")
        required = dx.version.questions.filter(required=True).order_by("position")
        n = names(dx)
        data = {n[q.key]: "4" if q.kind != Kind.ENPS else "9" for q in required if q.key != "focus_deep_work"}
        client.force_login(teammate)

        response = client.post(answer_url(dx), data)

        assert response.status_code == 422
        assert list(response.context["form"].errors) == [n["focus_deep_work"]]
        page = page_of(response)
        (error,) = page.find("p", id=f"id_{n['focus_deep_work']}_error")
        assert error.text == "Error: Choose an answer: this question needs one."
        assert nothing_stored() and not invitation_of(teammate, dx).responded
        assertRedirects(client.post(answer_url(dx), data | {n["focus_deep_work"]: "2"}), thanks_url(dx))

    @pytest.mark.parametrize("data", [{}, {"open": "   "}, {"slowed": []}])
    def test_a_form_with_no_answer_at_all_is_refused_though_no_question_is_required(
        self, client, team, teammate, invitees, data
    ):
        optional = make_template("all-optional", [(*q[:3], False, q[4]) for q in EVERY_KIND])
        campaign = open_campaign([team], template=optional.slug, name="Optional pulse")
        n = names(campaign)
        client.force_login(teammate)

        response = client.post(answer_url(campaign), {n[key]: value for key, value in data.items()})

        assert response.status_code == 422
        assert response.context["form"].non_field_errors() == [EMPTY_MESSAGE]
        page = page_of(response)
        (summary,) = page.find("div", id="error-summary")
        assert "No answer was given" in summary.text and EMPTY_MESSAGE in summary.text
        assert "the survey still waits for your answers" in summary.text
        links = [a.attrs["href"] for a in page.find("a") if summary in a.parents]
        assert links == [f"#id_{n['ci_feedback']}_0"]  # the first question
        assert nothing_stored() and not invitation_of(teammate, campaign).responded
        # One answer is enough.
        assertRedirects(client.post(answer_url(campaign), {n["interruptions"]: "3"}), thanks_url(campaign))
        assert stored(campaign) == {"interruptions": (3, None, "")}

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("ci_feedback", "6", "Choose one of the answers listed."),
            ("ci_feedback", "0", "Choose one of the answers listed."),
            ("interruptions", "often", "Choose one of the answers listed."),
            ("enps", "11", "Choose one of the answers listed."),
            ("enps", "-1", "Choose one of the answers listed."),
            ("role", "Manager", "Choose one of the answers listed."),
            ("slowed", ["CI", "Coffee"], "Choose one of the answers listed."),
            ("open", "x" * 2001, "Keep the answer within 2,000 characters (it has 2001)."),
            ("open", "null \x00 byte", "Null characters are not allowed."),
        ],
    )
    def test_a_bad_value_is_refused_and_nothing_is_stored(self, client, teammate, campaign, key, value, message):
        client.force_login(teammate)
        data = full_answers(campaign) | {names(campaign)[key]: value}

        response = client.post(answer_url(campaign), data)

        assert response.status_code == 422
        assert list(response.context["form"].errors) == [names(campaign)[key]]
        assertContains(response, message, status_code=422)
        assert nothing_stored() and not Answer.objects.exists()
        assert not invitation_of(teammate, campaign).responded

    def test_an_option_sent_twice_counts_once(self, client, teammate, campaign):
        client.force_login(teammate)
        slowed = names(campaign)["slowed"]

        response = client.post(answer_url(campaign), full_answers(campaign) | {slowed: ["Deploys", "CI", "Deploys"]})

        assertRedirects(response, thanks_url(campaign))
        assert stored(campaign)["slowed"] == (None, ["CI", "Deploys"], "")

    def test_a_line_break_counts_once_towards_the_limit(self, client, teammate, campaign):
        client.force_login(teammate)
        text = "a" * 999 + "\r\n" + "b" * 1000  # 2,000 characters as the browser counts them

        response = client.post(answer_url(campaign), full_answers(campaign) | {names(campaign)["open"]: text})

        assertRedirects(response, thanks_url(campaign))
        assert stored(campaign)["open"][2] == "a" * 999 + "\n" + "b" * 1000

    def test_get_and_post_run_the_same_queries_whatever_the_number_of_questions(
        self, client, team, teammate, campaign, django_assert_num_queries, django_assert_max_num_queries
    ):
        dx = open_campaign([team], name="Developer experience")  # the shipped template: 22 questions
        assert dx.version.questions.count() == 22 > campaign.version.questions.count()
        dx_answers = {}
        for question in dx.version.questions.all():
            dx_answers[f"q{question.pk}"] = {Kind.ENPS: "8", Kind.TEXT: "Less waiting"}.get(question.kind, "4")
        client.force_login(teammate)

        with django_assert_max_num_queries(4) as small_get:
            client.get(answer_url(campaign))
        with django_assert_num_queries(len(small_get.captured_queries)):
            client.get(answer_url(dx))
        small_answers = full_answers(campaign)
        with django_assert_max_num_queries(9) as small_post:
            assert client.post(answer_url(campaign), small_answers).status_code == 302
        with django_assert_num_queries(len(small_post.captured_queries)):
            assert client.post(answer_url(dx), dx_answers).status_code == 302
        assert len(stored(dx)) == 22


class TestAlreadyAnswered:
    def test_opening_the_form_again_says_it_is_answered(self, client, teammate, campaign):
        client.force_login(teammate)
        client.post(answer_url(campaign), full_answers(campaign))

        response = client.get(answer_url(campaign))

        assert response.status_code == 200
        assertContains(response, "You have answered this survey")
        assertNotContains(response, 'class="survey"')

    def test_a_second_submit_is_refused_and_the_first_answers_are_kept(self, client, teammate, campaign):
        client.force_login(teammate)
        client.post(answer_url(campaign), full_answers(campaign))
        first = stored(campaign)
        n = names(campaign)

        response = client.post(answer_url(campaign), {n["ci_feedback"]: "1", n["enps"]: "0", n["slowed"]: "CI"})

        assert response.status_code == 409
        assertContains(response, "Your first answers are kept; these were not saved", status_code=409)
        assert stored_count(campaign) == 1
        assert stored(campaign) == first

    def test_a_submit_that_loses_a_race_is_refused(self, client, teammate, campaign, monkeypatch):
        # The other submit claims the invitation after this request read it, before it stores.
        real_submit = services.response_submit

        def racing_submit(*, invitation, answers):
            real_submit(invitation=Invitation.objects.get(pk=invitation.pk), answers={})
            return real_submit(invitation=invitation, answers=answers)

        monkeypatch.setattr(services, "response_submit", racing_submit)
        client.force_login(teammate)

        response = client.post(answer_url(campaign), full_answers(campaign))

        assert response.status_code == 409
        assertContains(response, "You have answered this survey", status_code=409)
        assert stored_count(campaign) == 1
        assert stored(campaign) == {}  # the winner's (empty) answers, not these


class TestClosed:
    def test_a_closed_survey_says_so_and_takes_no_answers(self, client, teammate, campaign):
        services.campaign_close(campaign_id=campaign.pk)
        client.force_login(teammate)

        page = client.get(answer_url(campaign))
        posted = client.post(answer_url(campaign), full_answers(campaign))

        assert page.status_code == 200
        assertContains(page, "This survey is closed")
        assert posted.status_code == 410
        assertContains(posted, "so these answers were not saved", status_code=410)
        assert nothing_stored() and not invitation_of(teammate, campaign).responded

    def test_a_survey_past_its_closing_time_is_closed_before_the_task_closes_it(self, client, teammate, campaign):
        Campaign.objects.filter(pk=campaign.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
        client.force_login(teammate)

        assert client.get(answer_url(campaign)).status_code == 200
        posted = client.post(answer_url(campaign), full_answers(campaign))

        assert posted.status_code == 410
        assert nothing_stored()

    def test_a_closed_survey_one_answered_says_the_answers_are_kept(self, client, teammate, campaign):
        client.force_login(teammate)
        client.post(answer_url(campaign), full_answers(campaign))
        services.campaign_close(campaign_id=campaign.pk)

        response = client.get(answer_url(campaign))

        assertContains(response, "This survey is closed")
        assertContains(response, "your answers are kept")


class TestNotInvited:
    """Every way of reaching a survey one may not answer: 404, a page that says why, nothing stored."""

    @pytest.fixture(params=["GET", "POST"])
    def method(self, request):
        return request.param

    def call(self, client, method, url, data=None):
        return client.get(url) if method == "GET" else client.post(url, data or {})

    def test_an_outsider_gets_404(self, client, outsider, campaign, method):
        client.force_login(outsider)

        response = self.call(client, method, answer_url(campaign), full_answers(campaign))

        assert response.status_code == 404
        assertContains(response, "You are not invited to this survey", status_code=404)
        assert nothing_stored()

    def test_a_user_without_a_person_gets_404_and_is_told_why(self, client, campaign, method):
        client.force_login(UserFactory(username="loner"))

        response = self.call(client, method, answer_url(campaign), full_answers(campaign))

        assert response.status_code == 404
        assertContains(response, "not linked to a person", status_code=404)
        assert nothing_stored()

    @pytest.mark.parametrize("status", [Campaign.Status.DRAFT, Campaign.Status.SCHEDULED])
    def test_a_campaign_not_open_yet_gets_404_even_with_an_invitation(self, client, teammate, campaign, method, status):
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        client.force_login(teammate)

        response = self.call(client, method, answer_url(campaign), full_answers(campaign))

        assert response.status_code == 404
        assert nothing_stored() and not invitation_of(teammate, campaign).responded

    def test_a_draft_without_invitations_gets_404(self, client, team, teammate, every_kind, method):
        draft = campaign_for([team], template="every-kind", name="A draft")
        client.force_login(teammate)

        assert self.call(client, method, answer_url(draft)).status_code == 404

    def test_an_unknown_campaign_gets_404(self, client, teammate, campaign, method):
        client.force_login(teammate)

        response = self.call(client, method, reverse("surveys:answer", args=[campaign.pk + 1000]))

        assert response.status_code == 404
        assertContains(response, "You are not invited to this survey", status_code=404)

    def test_a_person_of_the_same_team_invited_later_is_not_invited_now(self, client, team, campaign, method):
        (late,) = members(team, 1, prefix="late")  # joined after the campaign opened
        client.force_login(late)

        assert self.call(client, method, answer_url(campaign), full_answers(campaign)).status_code == 404
        assert nothing_stored()


class TestThanks:
    def test_it_is_shown_after_answering_only(self, client, teammate, campaign):
        client.force_login(teammate)

        assertRedirects(client.get(thanks_url(campaign)), answer_url(campaign))
        client.post(answer_url(campaign), full_answers(campaign))
        response = client.get(thanks_url(campaign))

        assert response.status_code == 200
        assertContains(response, "Thank you")

    @pytest.mark.parametrize("who", ["outsider", "no person", "unknown campaign"])
    def test_anyone_not_invited_gets_404(self, client, outsider, teammate, campaign, who):
        services.response_submit(invitation=invitation_of(teammate, campaign), answers={})
        user = {"outsider": outsider, "no person": UserFactory(username="loner"), "unknown campaign": teammate}[who]
        client.force_login(user)
        pk = campaign.pk + 1000 if who == "unknown campaign" else campaign.pk

        response = client.get(reverse("surveys:thanks", args=[pk]))

        assert response.status_code == 404
        assertContains(response, "You are not invited to this survey", status_code=404)

    def test_it_requires_sign_in(self, client, campaign):
        assert client.get(thanks_url(campaign)).status_code == 302


# --- Anonymity: nothing of an answer outside the answer tables (docs/surveys.md, rule 1) ---------------


@pytest.fixture
def every_logger_at_debug(caplog):
    """Every logger at DEBUG (the SQL logger aside: far too noisy), each record caught by caplog."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.WARNING, logger="django.db.backends")
    silent = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in silent:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in silent:
        logger.removeHandler(caplog.handler)


def test_a_whole_answering_session_logs_no_answer(client, teammate, campaign, every_logger_at_debug):
    caplog = every_logger_at_debug
    client.force_login(teammate)
    n = names(campaign)

    client.get(answer_url(campaign))
    assert client.post(answer_url(campaign), {n["slowed"]: SECRET_OPTION, n["open"]: SECRET_TEXT}).status_code == 422
    assert client.post(answer_url(campaign), full_answers(campaign)).status_code == 302
    assert client.post(answer_url(campaign), full_answers(campaign)).status_code == 409
    client.get(thanks_url(campaign))

    assert stored(campaign)["open"][2] == SECRET_TEXT  # what must not leak was really submitted
    assert any(r.name == "django.request" for r in caplog.records)  # the refusals were logged, without answers
    for record in caplog.records:
        logged = f"{record.getMessage()} {record.msg} {record.args!r}"
        assert SECRET_TEXT not in logged and SECRET_OPTION not in logged, record.name
    assert SECRET_TEXT not in repr(dict(client.session))


def test_a_response_keeps_no_time_and_the_invitation_only_a_day(client, teammate, campaign):
    client.force_login(teammate)
    before = Invitation.objects.filter(person__user=teammate, campaign=campaign).values().get()

    client.post(answer_url(campaign), full_answers(campaign))

    times = (models.DateTimeField, models.DateField, models.TimeField, models.DurationField)
    for model in (PooledResponse, Response, Answer):
        fields = model._meta.get_fields()
        assert not [f.name for f in fields if isinstance(f, times)], model
        assert not [f.name for f in fields if f.is_relation and f.related_model in (Person, User, Invitation)], model
    (pooled,) = PooledResponse.objects.filter(campaign=campaign).values()
    assert set(pooled) == {"id", "campaign_id", "label_id", "answers"}
    services.campaign_close(campaign_id=campaign.pk)
    (response,) = Response.objects.filter(campaign=campaign).values()
    assert set(response) == {"id", "campaign_id", "label_id"}
    after = Invitation.objects.filter(person__user=teammate, campaign=campaign).values().get()
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"responded", "responded_on"}
    assert type(after["responded_on"]) is date


def test_an_error_report_leaves_out_the_answers(client, teammate, campaign, monkeypatch, caplog):
    def broken_submit(*, invitation, answers):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "response_submit", broken_submit)
    client.raise_request_exception = False
    client.force_login(teammate)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.post(answer_url(campaign), full_answers(campaign))

    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    # What an error email (AdminEmailHandler) carries: the posted values, and with include_html
    # every frame's variables (the answers are an argument of the service that failed).
    reporter = ExceptionReporter(record.request, *record.exc_info)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert "the database went away" in report
        assert SECRET_TEXT not in report and SECRET_OPTION not in report
        assert "Platform" not in report


# --- The home page's banner ---------------------------------------------------------------------


class TestBanner:
    def test_the_home_page_lists_the_open_surveys_to_answer(self, client, teammate, campaign):
        client.force_login(teammate)

        response = client.get("/")

        assertContains(response, "You have 1 open survey to answer")
        assertContains(response, f'<a href="{answer_url(campaign)}">Developer pulse</a>', html=True)

    def test_it_counts_several_and_disappears_once_all_are_answered(self, client, team, teammate, campaign):
        second = open_campaign([team], template="every-kind", name="Tooling check")
        client.force_login(teammate)
        assertContains(client.get("/"), "You have 2 open surveys to answer")

        client.post(answer_url(campaign), full_answers(campaign))
        response = client.get("/")
        assertContains(response, "You have 1 open survey to answer")
        assertNotContains(response, "Developer pulse")

        services.response_submit(invitation=invitation_of(teammate, second), answers={})
        response = client.get("/")
        assertNotContains(response, "open survey")
        assertNotContains(response, 'class="survey-banner"')

    def test_closed_or_other_peoples_surveys_make_no_banner(self, client, outsider, teammate, campaign):
        client.force_login(outsider)
        assertNotContains(client.get("/"), 'class="survey-banner"')
        client.force_login(UserFactory(username="loner"))
        assertNotContains(client.get("/"), 'class="survey-banner"')
        services.campaign_close(campaign_id=campaign.pk)
        client.force_login(teammate)
        assertNotContains(client.get("/"), 'class="survey-banner"')

    def test_the_value_is_lazy_and_costs_one_query_when_read(self, teammate, campaign, django_assert_num_queries):
        request = RequestFactory().get("/")
        request.user = User.objects.get(pk=teammate.pk)

        with django_assert_num_queries(0):
            value = open_surveys(request)["open_surveys"]
        assert isinstance(value, SimpleLazyObject) and value._wrapped is empty
        with django_assert_num_queries(1):
            assert [i.campaign.name for i in value] == ["Developer pulse"]

    def test_anonymous_visitors_have_no_open_surveys(self, django_assert_num_queries):
        request = RequestFactory().get("/accounts/login/")
        with django_assert_num_queries(0):
            assert list(open_surveys(request)["open_surveys"]) == []

    @pytest.mark.parametrize(("path", "extra"), [("/teams/", 0), ("/surveys/", 0), ("/", 1)])
    def test_only_the_home_page_pays_a_query_for_it(self, client, settings, teammate, campaign, path, extra):
        client.force_login(teammate)
        with CaptureQueriesContext(connection) as with_banner:
            assert client.get(path).status_code == 200
        processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
        settings.TEMPLATES = [
            settings.TEMPLATES[0]
            | {
                "OPTIONS": settings.TEMPLATES[0]["OPTIONS"]
                | {"context_processors": [p for p in processors if p != "surveys.context_processors.open_surveys"]}
            }
        ]
        with CaptureQueriesContext(connection) as without:
            assert client.get(path).status_code == 200

        assert len(with_banner.captured_queries) == len(without.captured_queries) + extra

    def test_every_page_links_to_my_surveys(self, client, teammate, campaign):
        client.force_login(teammate)

        assertContains(client.get("/teams/"), '<a href="/surveys/">Surveys</a>', html=True)
        assertContains(client.get("/surveys/"), '<a href="/surveys/" aria-current="page">Surveys</a>', html=True)
