"""The hand-made organisation the survey results tests read, its campaigns and their answers.

The organisation (k = 3, text threshold 4)::

    Engineering (eng: lena leads, eli)          2 invitees  ─┐ stored under eng (2 + 2 ≥ k)
    ├── Payments (pay: paula leads, 5 more)     6 invitees
    │   └── Payments API (pay-api)              3 invitees
    ├── Search (search)                         4 invitees
    └── Tiny (tiny)                             2 invitees  ─┘ fewer than k: rolled up into eng

plus charlie, an outsider in a team the campaign does not invite.

Fixtures (surveys' and insights' conftest.py make them theirs): ``org``, and its closed campaigns
``closed``, ``differencing``, ``two_waves`` and ``skipped``. Helpers add people and squads (``add_person``,
``make_squads``), open a wave (``open_wave``), answer it (``answer``, ``bulk_responses``) and close it (``close``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from e360.models import Membership, Team
from e360.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory
from surveys import services
from surveys.models import Answer, Campaign, Invitation, Kind, Response, Template, TemplateQuestion
from surveys.services import AnswerValue

K = 3
TEXT_THRESHOLD = 4


QUESTIONS = [
    # key, text, kind, dimension, reverse-coded, options
    ("ci_fast", "CI gives me fast feedback.", Kind.AGREEMENT, "ci_cd", False, []),
    ("ci_waiting", "I often wait on CI.", Kind.AGREEMENT, "ci_cd", True, []),
    ("focus_time", "How often do you get two hours without interruptions?", Kind.FREQUENCY, "focus", False, []),
    ("enps", "How likely are you to recommend your team?", Kind.ENPS, "satisfaction", False, []),
    ("role", "Which best describes your work?", Kind.SINGLE, "", False, ["Backend", "Frontend", "Platform"]),
    ("slow", "What slows you down?", Kind.TEXT, "", False, []),
]
KEYS = ("ci_fast", "ci_waiting", "focus_time", "enps", "role", "slow")


def results_template() -> Template:
    template, _ = Template.objects.get_or_create(slug="results-test", defaults={"name": "Results test"})
    if not template.questions.exists():
        TemplateQuestion.objects.bulk_create(
            [
                TemplateQuestion(
                    template=template,
                    position=n,
                    key=key,
                    text=text,
                    kind=kind,
                    dimension=dimension,
                    reverse_coded=reverse,
                    options=options,
                )
                for n, (key, text, kind, dimension, reverse, options) in enumerate(QUESTIONS, start=1)
            ]
        )
    return template


@dataclass
class Org:
    eng: Team
    pay: Team
    api: Team
    search: Team
    tiny: Team
    other: Team
    users: dict  # username → user


def add_person(username: str, team: Team, role: str = Membership.Role.MEMBER):
    user = UserFactory(username=username, email=f"{username}@example.com")
    person = PersonFactory(name=username.replace("-", " ").title(), handle=username, email=user.email, user=user)
    MembershipFactory(person=person, team=team, role=role)
    return user


def build_org() -> Org:
    eng = TeamFactory(name="Engineering", slug="eng")
    pay = TeamFactory(name="Payments", slug="pay", parent=eng)
    api = TeamFactory(name="Payments API", slug="pay-api", parent=pay)
    search = TeamFactory(name="Search", slug="search", parent=eng)
    tiny = TeamFactory(name="Tiny", slug="tiny", parent=eng)
    other = TeamFactory(name="Sales tools", slug="sales-tools")
    users = {
        "lena": add_person("lena", eng, Membership.Role.LEAD),
        "eli": add_person("eli", eng),
        "paula": add_person("paula", pay, Membership.Role.LEAD),
        "charlie": add_person("charlie", other),
    }
    for n in range(1, 6):
        users[f"pay-{n}"] = add_person(f"pay-{n}", pay)
    for n in range(3):
        users[f"api-{n}"] = add_person(f"api-{n}", api)
    for n in range(4):
        users[f"search-{n}"] = add_person(f"search-{n}", search)
    for n in range(2):
        users[f"tiny-{n}"] = add_person(f"tiny-{n}", tiny)
    return Org(eng, pay, api, search, tiny, other, users)


def make_squads(org: Org, count: int, prefix: str = "Squad") -> list[Team]:
    """``count`` sibling teams under Engineering, of 4 people each."""
    teams = []
    for n in range(count):
        team = TeamFactory(name=f"{prefix} {n}", slug=f"{prefix.lower()}-{n}", parent=org.eng)
        for person in range(4):
            add_person(f"{prefix.lower()}-{n}-{person}", team)
        teams.append(team)
    return teams


def org_viewer(username: str = "olga"):
    user = UserFactory(username=username, email=f"{username}@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


def open_wave(org: Org, *, series=None, wave: int = 1, k: int = K, text_threshold: int = TEXT_THRESHOLD) -> Campaign:
    now = timezone.now()
    fields = {
        "template": results_template(),
        "opens_at": now - timedelta(hours=1),
        "closes_at": now + timedelta(days=14),
        "k": k,
        "text_threshold": text_threshold,
    }
    if series is None:
        campaign = services.campaign_create(name="Developer pulse", teams=[org.eng], **fields)
    else:
        campaign = Campaign.objects.create(series=series, wave=wave, name=f"Developer pulse — wave {wave}", **fields)
        campaign.teams.set([org.eng])
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def answer(campaign: Campaign, team: Team, *rows: tuple) -> None:
    """One response per row, from the team's invitees who have not answered; a row's values follow ``KEYS``
    (None: skipped)."""
    questions = {q.key: q for q in campaign.version.questions.all()}
    for row in rows:
        invitation = Invitation.objects.filter(campaign=campaign, team=team, responded=False).first()
        assert invitation is not None, f"nobody left to answer in {team}"
        values = {}
        for key, value in zip(KEYS, row, strict=False):
            if value is None:
                continue
            q = questions[key]
            if q.kind == Kind.TEXT:
                values[q.pk] = AnswerValue(text=value)
            elif q.kind in (Kind.SINGLE, Kind.MULTI):
                values[q.pk] = AnswerValue(choices=(value,))
            else:
                values[q.pk] = AnswerValue(number=value)
        services.response_submit(invitation=invitation, answers=values)


def close(campaign: Campaign) -> Campaign:
    services.campaign_close(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


# The answers of the main fixture, by team: ci_fast, ci_waiting (reverse-coded), focus_time, enps, role, slow.
PAY_API = [
    (5, 1, 3, 10, "Backend", "Flaky integration tests in the API repo."),
    (4, 2, 3, 9, "Backend", "Waiting for the staging database."),
    (2, 5, 4, 6, "Frontend", None),
]
PAY = [
    (4, 4, 5, 8, "Platform", "Release trains every two weeks."),
    (4, 4, 1, 7, None, None),
    (1, 4, 2, 10, None, "Too many meetings."),
    (None, 4, 2, 0, None, None),
]
SEARCH = [
    (5, 1, 5, 10, None, "A secret only search would write."),
    (5, 1, 5, 10, None, None),
]
ENG = [(3, 3, 3, 7, None, "Unclear priorities."), (2, 2, 4, 5, None, None)]
TINY = [(1, 5, 1, 2, None, None)]


@pytest.fixture
def org(db) -> Org:
    return build_org()


@pytest.fixture
def closed(org) -> Campaign:
    """Closed; 12 responses: pay-api 3, pay 4, search 2 (fewer than k), eng 3 (two of eng's, one of tiny's)."""
    campaign = open_wave(org)
    answer(campaign, org.api, *PAY_API)
    answer(campaign, org.pay, *PAY)
    answer(campaign, org.search, *SEARCH)
    answer(campaign, org.eng, *ENG)
    answer(campaign, org.tiny, *TINY)
    return close(campaign)


@pytest.fixture
def differencing(org) -> Campaign:
    """Closed; 9 responses: pay-api 3, pay 4, search 2, none stored under eng. Engineering (9) less Payments (7)
    would be Search's 2: Payments is hidden, and Payments API (3) shown in its place (9 - 3 = 6)."""
    campaign = open_wave(org)
    answer(campaign, org.api, *PAY_API)
    answer(campaign, org.pay, *PAY)
    answer(campaign, org.search, *SEARCH)
    return close(campaign)


def bulk_responses(campaign: Campaign, label: Team | None, n: int, values: tuple = (4, 2, 4, 9, "Backend", "")) -> None:
    """``n`` responses stored under ``label`` without going through invitations: for counts and sizes only."""
    questions = {q.key: q for q in campaign.version.questions.all()}
    responses = Response.objects.bulk_create([Response(campaign=campaign, label=label) for _ in range(n)])
    answers = []
    for response in responses:
        for key, value in zip(KEYS, values, strict=True):
            q = questions[key]
            if q.kind == Kind.TEXT:
                if value:
                    answers.append(Answer(response=response, question=q, text=value))
            elif q.kind in (Kind.SINGLE, Kind.MULTI):
                answers.append(Answer(response=response, question=q, choices=[value]))
            else:
                answers.append(Answer(response=response, question=q, number=value))
    Answer.objects.bulk_create(answers, batch_size=2000)


PAY_API_BEFORE = [(2, 4, 3, 5, "Backend", None), (3, 4, 3, 6, "Backend", None), (4, 2, 2, 9, "Frontend", None)]


@pytest.fixture
def two_waves(org) -> tuple[Campaign, Campaign]:
    """Wave 1 as ``differencing`` (Payments hidden there), with other answers for pay-api; wave 2 as ``closed``."""
    first = open_wave(org)
    answer(first, org.api, *PAY_API_BEFORE)
    answer(first, org.pay, *PAY)
    answer(first, org.search, *SEARCH)
    close(first)
    second = open_wave(org, series=first.series, wave=2)
    answer(second, org.api, *PAY_API)
    answer(second, org.pay, *PAY)
    answer(second, org.search, *SEARCH)
    answer(second, org.eng, *ENG)
    answer(second, org.tiny, *TINY)
    return first, close(second)


def pay_waves(org, first: int, second: int) -> tuple[Campaign, Campaign]:
    """Two waves where only Payments' own people answer: ``first`` of them, then ``second`` (the same people
    first: invitations are answered in name order)."""
    one = open_wave(org)
    answer(one, org.pay, *([(2, 4, 2, 5, "Backend", None)] * first))
    close(one)
    two = open_wave(org, series=one.series, wave=2)
    answer(two, org.pay, *([(5, 1, 5, 10, "Backend", None)] * second))
    return one, close(two)


@pytest.fixture
def skipped(org) -> Campaign:
    """Closed; pay-api 3 responses and pay 4, but people skipped: in pay-api only one answered focus_time and one
    eNPS; in Payments' own, only one answered ci_fast."""
    campaign = open_wave(org)
    answer(
        campaign,
        org.api,
        (5, 1, None, None, "Backend", None),
        (4, 2, None, None, "Backend", None),
        (2, 5, 4, 6, "Frontend", None),
    )
    answer(
        campaign,
        org.pay,
        (4, 4, 5, 8, "Platform", None),
        (None, 4, 1, 7, None, None),
        (None, 4, 2, 10, None, None),
        (None, 4, 2, 0, None, None),
    )
    return close(campaign)
