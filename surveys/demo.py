"""Survey demo: three quarterly waves of the Developer experience survey, two closed and one open.

The waves run through the real services (``campaign_create``, ``campaign_open``,
``campaign_close``, which schedules the next wave), with everyone invited. Answers follow each
team's scenario (``e360.demo.team_scenarios``), the same story the delivery demo tells: the
flaky-CI teams answer low on ``ci_cd``, the slow-review teams low on ``code_review``, the
low performers low on ``release`` and ``stability``, elite teams high everywhere, and the
improving teams a little better each wave, and the team of the demo's review reminders
(``e360.demo.REVIEW_REMINDERS``, Search) a little better on ``code_review`` in the waves that
open after the reminders started (``LIFTS``). Answers are pooled in bulk, as the form would pool
them (no person, no time; the invitation gets the flag and the day), and become responses as
the pool moves (``services.pool_move``): in shuffled batches, and all of them at closing.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta

from django.conf import settings

from e360.demo import REVIEW_REMINDERS, STORY_INITIATIVES, DemoOrg, team_scenarios
from surveys import services
from surveys.models import DEFAULT_K, Campaign, Invitation, Kind, PooledResponse, Question, Template

SURVEY = "developer-experience"
WAVE_DAYS = 14
# Favourable answers are this likely for a typical team; scenarios move it per dimension.
BASE = 0.64
SHIFTS: dict[str, dict[str, float]] = {
    "typical": {},
    "elite": dict.fromkeys(
        ("ci_cd", "code_review", "release", "stability", "cognitive_load", "focus", "tooling", "clarity"), 0.2
    )
    | {"satisfaction": 0.2},
    "flaky-ci": {"ci_cd": -0.5, "tooling": -0.12, "release": -0.08, "satisfaction": -0.1},
    "slow-reviews": {"code_review": -0.5, "release": -0.1, "focus": -0.05, "satisfaction": -0.08},
    "low": {"release": -0.3, "stability": -0.32, "clarity": -0.1, "satisfaction": -0.15},
    "improving": {"ci_cd": -0.3, "release": -0.3, "code_review": -0.15},
}
# The improving teams' shifts shrink by wave (1, 2, 3): their delivery improves over the history too.
IMPROVING = (1.0, 0.55, 0.15)
# What the demo's initiatives did to their team's answers, in the waves opening after their start: the favourable
# rate moves by this much per dimension (review reminders: Search's reviews are quicker, and its people say so).
LIFTS: dict[str, dict[str, float]] = {REVIEW_REMINDERS.key: {"code_review": 0.2}}
PARTICIPATION = {Campaign.Status.CLOSED: 0.85, Campaign.Status.OPEN: 0.45}
SKIP = 0.04  # a person leaves an optional question blank this often
# The small organisation's teams have five to ten people: k = 3 (the lowest allowed) lets its
# teams be reported on; the large one keeps the default.
K_FOR_SIZE = {"small": 3}
COMMENTS: dict[str, list[str]] = {
    "flaky-ci": [
        "Re-running flaky pipelines eats hours every week.",
        "CI fails for reasons unrelated to my change far too often.",
        "I wait on CI more than I write code some days.",
    ],
    "slow-reviews": [
        "Pull requests wait days for a first review.",
        "Reviews arrive after I have moved on, so context switching is constant.",
        "We need clearer ownership of reviews.",
    ],
    "low": [
        "Releases are stressful and often roll back.",
        "The weekly release window slows everything down.",
        "Incidents after releases are too common.",
    ],
    "improving": ["The new deploy pipeline is a big improvement.", "Shipping is getting easier every month."],
    "elite": [
        "Things work well; keep investing in the platform.",
        "Fast reviews and easy deploys make this a great place.",
    ],
    "typical": ["Documentation is hard to find.", "Too many meetings break up the day.", "Local setup takes too long."],
}


def seed(org: DemoOrg) -> str:
    template = Template.objects.filter(slug=SURVEY).first()
    if template is None:
        return "no survey: the Developer experience template is missing (run manage.py migrate)"
    rng = org.random("surveys")
    scenarios = team_scenarios(org.teams)
    first_opens = services.add_months(org.now - timedelta(days=3), -6)
    campaign = services.campaign_create(
        template=template,
        name="Developer experience",
        everyone=True,
        opens_at=first_opens,
        closes_at=first_opens + timedelta(days=WAVE_DAYS),
        time_zone=settings.TIME_ZONE,
        recurrence=Campaign.Recurrence.QUARTERLY,
        reminder_days=[3, 7],
        k=K_FOR_SIZE.get(org.size.name, DEFAULT_K),
    )
    habits: dict[int, Habit] = {}
    counts = []
    for wave in (1, 2, 3):
        services.campaign_open(campaign_id=campaign.pk, now=campaign.opens_at)
        campaign.refresh_from_db()
        closing = campaign.closes_at <= org.now
        counts.append(_answer(campaign, wave, scenarios, habits, rng, closed=closing, lifts=lifts(org, campaign)))
        if not closing:
            break
        next_wave = services.campaign_close(campaign_id=campaign.pk, now=campaign.closes_at)
        if next_wave is None or next_wave.opens_at > org.now:
            break
        campaign = next_wave
    return f"{len(counts)} waves of the Developer experience survey ({', '.join(map(str, counts))} responses)"


def lifts(org: DemoOrg, campaign: Campaign) -> dict[str, dict[str, float]]:
    """Team slug → dimension → change of the favourable rate, for the teams of the demo's initiatives that started
    before ``campaign`` opened."""
    found = {}
    for initiative in STORY_INITIATIVES:
        team, lift = initiative.team(org.teams), LIFTS.get(initiative.key)
        if team is not None and lift and campaign.opens_at >= initiative.start(org.now):
            found[team.slug] = lift
    return found


@dataclasses.dataclass(frozen=True)
class Habit:
    """How a demo person answers, drawn at their first wave and kept: the same people answer each closed wave and
    leave the same questions blank, so wave-to-wave changes pass the cross-wave rules (``anonymity.wave_change``,
    ``published.hidden_changes``) as a steady team's would."""

    willing: float  # answers a wave whose participation rate is above this
    skips: frozenset[str]  # the optional questions' keys left blank


def _habit(habits: dict[int, Habit], person_id: int, questions: list[Question], rng: random.Random) -> Habit:
    if person_id not in habits:
        habits[person_id] = Habit(rng.random(), frozenset(q.key for q in questions if rng.random() < SKIP))
    return habits[person_id]


def _answer(
    campaign: Campaign,
    wave: int,
    scenarios: dict[str, str],
    habits: dict[int, Habit],
    rng: random.Random,
    *,
    closed: bool,
    lifts: dict[str, dict[str, float]],
) -> int:
    """Answer the wave for the invitees whose habit is to answer at this wave's participation rate, as the form
    would. Nobody is emailed, nor reminded later: demo people have made-up addresses."""
    Invitation.objects.filter(campaign=campaign).update(
        emailed_at=campaign.opens_at, reminders_sent=len(campaign.reminder_days)
    )
    questions = _questions(campaign)
    rate = PARTICIPATION[Campaign.Status.CLOSED if closed else Campaign.Status.OPEN]
    invitations = [
        i
        for i in campaign.invitations.select_related("team").order_by("pk")
        if _habit(habits, i.person_id, questions, rng).willing < rate
    ]
    return answer_invitations(campaign, invitations, scenarios, rng, wave=wave, habits=habits, lifts=lifts)


def _questions(campaign: Campaign) -> list[Question]:
    return list(Question.objects.filter(version=campaign.version).order_by("position"))


def answer_invitations(
    campaign: Campaign,
    invitations: list[Invitation],
    scenarios: dict[str, str],
    rng: random.Random,
    *,
    wave: int = 3,
    habits: dict[int, Habit] | None = None,
    lifts: dict[str, dict[str, float]] | None = None,
) -> int:
    """One set of answers per invitation, drawn from its team's scenario and pooled in bulk, as the form would
    pool them; each invitation gets the flag and a day of the wave. The pool moves into responses as submits move
    it (``services.pool_move``), and at closing. ``habits`` carries each person's habit from wave to wave; ``lifts``
    moves some teams' favourable rates (team slug → dimension → change). Returns how many."""
    questions = _questions(campaign)
    habits = {} if habits is None else habits
    quota = _Quota(rng)
    last_day = min(campaign.closes_at, campaign.opens_at + timedelta(days=WAVE_DAYS))
    pooled: list[PooledResponse] = []
    days: dict[date, list[int]] = defaultdict(list)
    for invitation in invitations:
        scenario = scenarios.get(invitation.team.slug, "typical") if invitation.team else "typical"
        lift = (lifts or {}).get(invitation.team.slug, {}) if invitation.team else {}
        skips = _habit(habits, invitation.person_id, questions, rng).skips
        drawn = {
            q.pk: value
            for q in questions
            if (value := _draw(q, scenario, wave, rng, skips, quota.dealer(invitation.team_id, q.pk), lift)) is not None
        }
        pooled.append(services.pool_entry(campaign_id=campaign.pk, label_id=invitation.label_id, answers=drawn))
        moment = campaign.opens_at + (last_day - campaign.opens_at) * rng.random() ** 2  # most answer early
        days[moment.date()].append(invitation.pk)
    rng.shuffle(pooled)  # pooled in no particular order
    PooledResponse.objects.bulk_create(pooled, batch_size=1000)
    for day, pks in days.items():
        Invitation.objects.filter(pk__in=pks).update(responded=True, responded_on=day)
    services.pool_move(campaign_id=campaign.pk)
    return len(pooled)


class _Quota:
    """Favourable answers dealt per team and question as evenly as the scenario's rate allows: a running remainder,
    started at random, gives each team about rate × answers of them. With five to ten people in a team, independent
    draws would often turn a team's story around by chance (a typical dimension below the one its scenario
    lowers)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.owed: dict[tuple[int | None, int], float] = {}

    def dealer(self, team_id: int | None, question_id: int) -> Callable[[float], bool]:
        def good(rate: float) -> bool:
            owed = self.owed.get((team_id, question_id), self.rng.random()) + rate
            self.owed[(team_id, question_id)] = owed - 1 if owed >= 1 else owed
            return owed >= 1

        return good


def _draw(
    question: Question,
    scenario: str,
    wave: int,
    rng: random.Random,
    skips: frozenset[str],
    favourable_dealt: Callable[[float], bool],
    lift: dict[str, float] | None = None,
) -> services.AnswerValue | None:
    if question.key in skips and not question.required:
        return None
    shift = SHIFTS.get(scenario, {}).get(question.dimension, 0.0)
    if scenario == "improving":
        shift *= IMPROVING[wave - 1]
    shift += (lift or {}).get(question.dimension, 0.0)
    favourable = min(max(BASE + shift + rng.uniform(-0.05, 0.05), 0.03), 0.97)
    if question.kind in (Kind.AGREEMENT, Kind.FREQUENCY):
        good = favourable_dealt(favourable)
        value = rng.choice((4, 4, 5)) if good else rng.choice((1, 2, 2, 3, 3, 3))
        return services.AnswerValue(number=6 - value if question.reverse_coded else value)
    if question.kind == Kind.ENPS:
        roll = rng.random()
        value = (
            rng.choice((9, 10))
            if roll < favourable - 0.2
            else rng.choice((7, 8))
            if roll < favourable + 0.1
            else rng.randint(2, 6)
        )
        return services.AnswerValue(number=value)
    if question.kind == Kind.TEXT:
        if rng.random() > 0.3:
            return None
        return services.AnswerValue(text=rng.choice(COMMENTS.get(scenario, COMMENTS["typical"])))
    if question.options:
        picked = rng.sample(list(question.options), 1 if question.kind == Kind.SINGLE else rng.randint(1, 2))
        return services.AnswerValue(choices=tuple(picked))
    return None
