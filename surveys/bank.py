"""The question bank and the templates shipped with e360 (docs/surveys.md#question-bank).

Plain data: every ``migrate`` turns it into ``Template`` rows (``services.templates_load_bank``),
idempotently. A question's ``key`` is its stable handle: waves and
template versions are compared on it, so a key never changes meaning.

Each template marks its core questions required: one 1–5 item per dimension it measures, and the
eNPS where it asks it (docs/surveys.md, "Required questions"). Every respondent then counts in every
dimension score and eNPS, so within a shown group no dimension is withheld for too few answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BankQuestion:
    key: str
    text: str
    dimension: str = ""
    kind: str = "agreement"
    reverse_coded: bool = False
    required: bool = False
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class BankTemplate:
    slug: str
    name: str
    description: str
    questions: tuple[BankQuestion, ...] = field(default_factory=tuple)


def Q(key: str, text: str, dimension: str = "", **fields) -> BankQuestion:
    return BankQuestion(key=key, text=text, dimension=dimension, **fields)


ENPS = Q(
    "enps_team",
    "How likely are you to recommend your team as a place to work to a friend?",
    "satisfaction",
    kind="enps",
    required=True,
)
SATISFIED = Q(
    "satisfaction_overall",
    "Overall, I am satisfied with my experience as a developer here.",
    "satisfaction",
    required=True,
)
SLOWS_YOU = Q("open_slows_you", "What slows you down the most right now?", kind="text")

DEVELOPER_EXPERIENCE = BankTemplate(
    slug="developer-experience",
    name="Developer experience",
    description="The default survey: every dimension e360 relates to delivery metrics, two or more questions each.",
    questions=(
        Q(
            "ci_cd_real_failures",
            "When a CI build fails, it is almost always because of a real problem in the change.",
            "ci_cd",
            required=True,
        ),
        Q("ci_cd_waiting", "I often wait on CI before I can move on to the next thing.", "ci_cd", reverse_coded=True),
        Q("ci_cd_flaky", "Flaky tests or pipelines cost me time most weeks.", "ci_cd", reverse_coded=True),
        Q(
            "code_review_first_review",
            "My pull requests usually get a first review within one working day.",
            "code_review",
            required=True,
        ),
        Q("code_review_useful", "Code reviews on my team are useful and keep work moving.", "code_review"),
        Q("release_easy", "Getting a merged change into production is easy and predictable.", "release", required=True),
        Q(
            "release_when_ready",
            "I can ship as soon as my change is ready, without waiting for a release window.",
            "release",
        ),
        Q(
            "stability_rare_incidents",
            "Production incidents caused by our changes are rare.",
            "stability",
            required=True,
        ),
        Q("stability_restore", "When something breaks in production, we restore service quickly.", "stability"),
        Q("stability_on_call", "Being on call is sustainable for me.", "stability"),
        Q(
            "cognitive_load_code",
            "The code I work in is easy to understand and change.",
            "cognitive_load",
            required=True,
        ),
        Q(
            "cognitive_load_docs",
            "I can find the documentation I need without having to ask someone.",
            "cognitive_load",
        ),
        Q("focus_deep_work", "I get enough uninterrupted time for deep work.", "focus", required=True),
        Q("focus_interruptions", "Interruptions often pull me away from my main task.", "focus", reverse_coded=True),
        Q("tooling_local_env", "My local development environment just works.", "tooling", required=True),
        Q("tooling_helps", "Our tools help me more than they get in my way.", "tooling"),
        Q("clarity_priorities", "I understand what I should work on and why it matters.", "clarity", required=True),
        Q("clarity_stable_requirements", "Requirements rarely change after I have started the work.", "clarity"),
        ENPS,
        SATISFIED,
        SLOWS_YOU,
        Q(
            "open_change_one_thing",
            "If you could change one thing about how we build and ship software, what would it be?",
            kind="text",
        ),
    ),
)

ONBOARDING_WEEK_1 = BankTemplate(
    slug="onboarding-week-1",
    name="Onboarding — week 1",
    description="For people in their first week: can they build, run and ship, and do they know who to ask.",
    questions=(
        Q(
            "onboarding_env_day_one",
            "I could build and run our code on my machine within my first two days.",
            "tooling",
            required=True,
        ),
        Q(
            "onboarding_docs",
            "The onboarding documentation was accurate and up to date.",
            "cognitive_load",
            required=True,
        ),
        Q("onboarding_who_to_ask", "I know who to ask when I am stuck.", "clarity", required=True),
        Q("onboarding_first_change", "I have merged, or know how to merge, my first change.", "release", required=True),
        Q(
            "onboarding_access",
            "Which access was still missing at the end of your first week?",
            kind="multi",
            options=("Source code", "CI/CD", "Cloud or production consoles", "Issue tracker", "None: I had everything"),
        ),
        Q("onboarding_week_1_open", "What would have made your first week easier?", kind="text"),
    ),
)

ONBOARDING_MONTH_1 = BankTemplate(
    slug="onboarding-month-1",
    name="Onboarding — month 1",
    description="After a month: are new people productive, reviewed quickly and clear about their work.",
    questions=(
        Q("onboarding_productive", "I feel productive in my team.", "satisfaction", required=True),
        Q(
            "code_review_first_review",
            "My pull requests usually get a first review within one working day.",
            "code_review",
            required=True,
        ),
        Q(
            "cognitive_load_code",
            "The code I work in is easy to understand and change.",
            "cognitive_load",
            required=True,
        ),
        Q("clarity_priorities", "I understand what I should work on and why it matters.", "clarity", required=True),
        Q("release_easy", "Getting a merged change into production is easy and predictable.", "release", required=True),
        Q(
            "onboarding_pace",
            "How was the pace of your onboarding?",
            kind="single",
            options=("Too slow", "About right", "Too fast"),
        ),
        Q("onboarding_month_1_open", "What do you still find hard, a month in?", kind="text"),
    ),
)

POST_INCIDENT = BankTemplate(
    slug="post-incident",
    name="Post-incident",
    description="For the people who worked an incident, a few days after: detection, tooling, load and learning.",
    questions=(
        Q(
            "incident_detected",
            "We found out about the problem from our monitoring before users told us.",
            "stability",
            required=True,
        ),
        Q(
            "incident_tools",
            "I had the dashboards, logs and access I needed to work on the incident.",
            "tooling",
            required=True,
        ),
        Q("incident_rollback", "Rolling back or shipping a fix was quick and safe.", "release", required=True),
        Q("incident_load", "The incident put an unreasonable load on me.", "stability", reverse_coded=True),
        Q("incident_learning", "I expect the follow-up actions to prevent a repeat.", "stability"),
        Q("incident_open", "What would have helped you most during the incident?", kind="text"),
    ),
)

QUARTERLY_PULSE = BankTemplate(
    slug="quarterly-pulse",
    name="Quarterly pulse",
    description="A short check between full surveys: one question per main dimension, eNPS and one open question.",
    questions=(
        Q(
            "ci_cd_flaky",
            "Flaky tests or pipelines cost me time most weeks.",
            "ci_cd",
            reverse_coded=True,
            required=True,
        ),
        Q(
            "code_review_first_review",
            "My pull requests usually get a first review within one working day.",
            "code_review",
            required=True,
        ),
        Q("release_easy", "Getting a merged change into production is easy and predictable.", "release", required=True),
        Q("focus_deep_work", "I get enough uninterrupted time for deep work.", "focus", required=True),
        Q("clarity_priorities", "I understand what I should work on and why it matters.", "clarity", required=True),
        ENPS,
        SLOWS_YOU,
    ),
)

TEMPLATES = (DEVELOPER_EXPERIENCE, ONBOARDING_WEEK_1, ONBOARDING_MONTH_1, POST_INCIDENT, QUARTERLY_PULSE)


def dimension_pulse(dimension: str, label: str) -> BankTemplate:
    """A pulse on one dimension (``services.pulse_template``): the Developer experience template's questions of that
    dimension, as they are there — the same keys, texts and required core item — so a pulse's items compare with the
    full survey's. Made when a pulse first asks it, not at ``migrate``: nine templates nobody chose would crowd the
    admin's list."""
    questions = tuple(q for q in DEVELOPER_EXPERIENCE.questions if q.dimension == dimension)
    if not questions:
        raise ValueError(f"No question of the bank measures {dimension!r}.")
    return BankTemplate(
        slug=f"pulse-{dimension.replace('_', '-')}",
        name=f"Pulse — {label}",
        description=f"A short pulse: the {len(questions)} questions of the Developer experience survey on {label}.",
        questions=questions,
    )
