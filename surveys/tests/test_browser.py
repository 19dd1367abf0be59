"""Answering a survey in a real browser: SSO sign-in, my surveys, the keyboard, a phone, one answer only.

Chromium, e360's live server and the loopback OpenID provider (``e360/tests/conftest.py``).
Screenshots land in var/screenshots/ (laptop 1280 x 800, phone 390 x 844).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from e360.models import Membership, Person
from e360.tests.factories import MembershipFactory, PersonFactory
from surveys.models import Campaign, Invitation
from surveys.tests.factories import members, open_campaign
from surveys.tests.stored import nothing_stored, stored, stored_count

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
OPEN_TEXT = "Waiting on the flaky checkout suite"


@pytest.fixture
def ada(team) -> Person:
    """In the catalog, not yet signed in: the provider's ``ada`` account has her email."""
    person = PersonFactory(name="Ada Lovelace", handle="ada", email="ada@example.com")
    MembershipFactory(person=person, team=team, role=Membership.Role.MEMBER)
    return person


@pytest.fixture
def survey(every_kind, team, ada) -> Campaign:
    members(team, 3, prefix="dev")
    return open_campaign([team], template="every-kind", name="Developer pulse")


def sso_sign_in(page: Page, oidc_provider, login: str) -> None:
    """Sign in through the loopback provider, as e360/tests/test_sso.py does."""
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Single sign-on").click()
    expect(page.get_by_role("heading", name="Sign in to the test IdP")).to_be_visible()
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(oidc_provider.accounts[login]["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Allow").click()


def tab_to(page: Page, target: Locator, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if target.evaluate("(el) => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} never got the focus in {limit} presses of Tab")


def question(page: Page, number: int) -> Locator:
    return page.get_by_role("group", name=re.compile(rf"^{number}\. "))


def watch(tab: Page, problems) -> None:
    """Record a second tab's console errors and exceptions as the ``page`` fixture does for the first."""
    tab.on("console", lambda m: m.type == "error" and problems.add("console error", m.text, tab.url))
    tab.on("pageerror", lambda error: problems.add("uncaught exception", str(error), tab.url))


def test_a_developer_answers_the_open_survey_once(
    page, page_problems, live_server, oidc_provider, sso_app, survey, ada, screenshots
):
    form_url = f"{live_server.url}/surveys/{survey.pk}/"
    page.set_viewport_size(LAPTOP)
    sso_sign_in(page, oidc_provider, "ada")

    # Home: the banner points at the survey; My surveys lists it to answer.
    expect(page).to_have_url(f"{live_server.url}/")
    banner = page.get_by_role("region", name="You have 1 open survey to answer")
    expect(banner.get_by_role("link", name="Developer pulse")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Surveys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My surveys")
    page.get_by_role("region", name="To answer").get_by_role("link", name="Developer pulse").click()

    expect(page).to_have_url(form_url)
    expect(page.get_by_role("group")).to_have_count(6)
    expect(question(page, 1)).to_contain_text("(required)")
    expect(question(page, 2)).not_to_contain_text("(required)")
    page.screenshot(path=screenshots / "survey-form-laptop.png", full_page=True)

    # A phone: the choices stack into a column and nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for number in (1, 3):  # agreement, and the eleven eNPS steps
        boxes = [radio.bounding_box() for radio in question(page, number).get_by_role("radio").all()]
        assert len({round(box["x"]) for box in boxes}) == 1, number
        assert [box["y"] for box in boxes] == sorted(box["y"] for box in boxes), number
    expect(question(page, 3).get_by_text("(extremely likely)")).to_be_visible()
    page.screenshot(path=screenshots / "survey-form-phone.png", full_page=True)
    page.set_viewport_size(LAPTOP)
    # On a laptop the row's hint says what the ends mean; the words beside 10 are for screen readers only.
    assert question(page, 3).get_by_text("(extremely likely)").bounding_box()["width"] <= 1

    # The same form in a second tab, to send again once answered.
    stale = page.context.new_page()
    watch(stale, page_problems)
    stale.goto(form_url)

    # Sending nothing: 422, the error summary takes the focus and links to each question.
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Send my answers").click()
    assert refused.value.status == 422
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(page).to_have_title(re.compile(r"^Error: "))
    page.screenshot(path=screenshots / "survey-errors-laptop.png", full_page=True)
    assert nothing_stored()

    # Answering with the keyboard only.
    page.keyboard.press("Tab")
    first_link = summary.get_by_role("link").first
    expect(first_link).to_be_focused()
    expect(first_link).to_have_css("outline-style", "solid")  # a visible focus ring
    page.keyboard.press("Enter")  # to question 1
    agreement = question(page, 1)
    expect(agreement.get_by_role("radio", name="Strongly disagree")).to_be_focused()
    page.keyboard.press("Space")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(agreement.get_by_role("radio", name="Agree", exact=True)).to_be_checked()
    assert (
        agreement.get_by_role("radio", name="Agree", exact=True).evaluate(
            "(el) => getComputedStyle(el.closest('label')).outlineStyle"
        )
        == "solid"
    )  # the focused choice shows it
    page.keyboard.press("Tab")  # question 2: Never
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    expect(question(page, 2).get_by_role("radio", name="Rarely")).to_be_checked()
    page.keyboard.press("Tab")  # question 3: 0
    page.keyboard.press("Space")
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    expect(question(page, 3).get_by_role("radio", name="9", exact=True)).to_be_checked()
    multi = question(page, 5)  # question 4 is skipped
    tab_to(page, multi.get_by_role("checkbox", name="CI"))
    page.keyboard.press("Space")
    tab_to(page, multi.get_by_role("checkbox", name="Local setup"))
    page.keyboard.press("Space")
    tab_to(page, question(page, 6).get_by_role("textbox"))
    page.keyboard.type(OPEN_TEXT)
    tab_to(page, page.get_by_role("button", name="Send my answers"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page).to_have_url(f"{form_url}thanks/")
    page.set_viewport_size(PHONE)
    page.screenshot(path=screenshots / "survey-thanks-phone.png", full_page=True)
    page.set_viewport_size(LAPTOP)
    invitation = Invitation.objects.get(campaign=survey, person=ada)
    assert invitation.responded
    first = stored(survey)  # in the pool until it moves with others (rule 1)
    assert first == {
        "ci_feedback": (4, None, ""),
        "interruptions": (2, None, ""),
        "enps": (9, None, ""),
        "slowed": (None, ["CI", "Local setup"], ""),
        "open": (None, None, OPEN_TEXT),
    }

    # The banner is gone; opening the form again says it is answered.
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Lovelace")
    expect(page.get_by_role("region", name=re.compile("open survey"))).to_have_count(0)
    again = page.goto(form_url)
    assert again is not None and again.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("You have answered this survey")
    expect(page.get_by_role("button", name="Send my answers")).to_have_count(0)

    # Sending the stale copy again is refused, and so is a direct request.
    token = stale.locator("form.survey input[name=csrfmiddlewaretoken]").input_value()
    question(stale, 1).get_by_text("Strongly disagree").click()
    question(stale, 3).get_by_role("radio", name="0 (not at all likely)").click()
    question(stale, 5).get_by_text("Deploys").click()
    with stale.expect_response(lambda r: r.request.method == "POST") as resent:
        stale.get_by_role("button", name="Send my answers").click()
    assert resent.value.status == 409
    expect(stale.get_by_role("heading", level=1)).to_have_text("You have answered this survey")
    expect(stale.get_by_text("Your first answers are kept; these were not saved")).to_be_visible()
    names = {q.key: f"q{q.pk}" for q in survey.version.questions.all()}
    direct = page.request.post(
        form_url,
        form={"csrfmiddlewaretoken": token, names["ci_feedback"]: "1", names["enps"]: "0", names["slowed"]: "CI"},
    )
    assert direct.status == 409
    assert "You have answered this survey" in direct.text()

    assert stored_count(survey) == 1
    assert stored(survey) == first
    # Chromium reports a page that loaded with an error status; these two were expected.
    assert len(page_problems.take("status of 422")) == 1
    assert len(page_problems.take("status of 409")) == 1
    stale.evaluate("0")
    page.evaluate("0")  # a round trip, so CSP reports sent before it have arrived
    page_problems.assert_none()
