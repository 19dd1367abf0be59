"""A deterministic demo organisation, and the hook other apps use to add to it.

``manage.py seed_demo`` calls :func:`demo_seed`, which

1. builds the catalog in memory (:func:`build_org`: an organisation root,
   groups under it, teams under the groups, people with memberships, services
   owned by teams) from ``random.Random`` streams derived from the seed only;
2. saves it with ``bulk_create`` (:func:`save_org`);
3. runs the seeders other apps provide, in ``INSTALLED_APPS`` order, inside the
   same transaction: a failing seeder leaves the database as it was.

Extending the demo: an installed app adds a ``demo.py`` module with ::

    def seed(org: DemoOrg) -> str:
        '''Add this app's demo rows for ``org``; return a one-line summary.'''

    def clear() -> None:  # optional
        '''Delete this app's demo rows that would keep the catalog from being deleted (they protect a team).'''

It reads the saved catalog from ``org`` (``org.teams``, ``org.services``,
``org.people_in(team)``, ...), draws its randomness from ``org.random("<app>")``
(its own stream, so adding or changing one seeder never changes another's
data), places its history between ``org.start`` and ``org.now`` and writes in
batches. Because dependence runs one way, e360 never imports those modules by
name; apps later in ``INSTALLED_APPS`` may rely on the rows of earlier ones.
``catalog_clear`` calls every app's ``clear`` first, the last app's first.

The story the seeders share (``team_scenarios``: which team delivers how, and
``STORY_INITIATIVES``: what two teams did about it, and when) lives here, so
the delivery history, the survey answers and the actions agree.

Same seed, size and ``now`` give identical rows: names, emails, slugs, the
tree, memberships and services (ids aside, which the database assigns).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from importlib import import_module
from types import ModuleType

from django.apps import apps
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.module_loading import module_has_submodule
from django.utils.text import slugify

from e360.access import ORG_VIEWERS_GROUP
from e360.models import Membership, Person, Service, Team, User
from e360.services import person_link_user, user_trust_email

EMAIL_DOMAIN = "demo.e360.dev"
GITHUB_ORG = "demo-org"
BATCH_SIZE = 500
MIN_MEMBERS = 6  # per team, besides its lead


@dataclass(frozen=True)
class SizeProfile:
    name: str
    groups: int
    teams: int  # of kind "team", spread over the groups
    people: int
    services: int
    # How far back generated history (deployments, survey waves, ...) reaches.
    history_days: int


SIZES: dict[str, SizeProfile] = {
    # Twelve teams with seven to eleven people each: enough teams for the correlations (at least
    # eight with answers) and enough people per team for every survey figure, still loaded in seconds.
    "small": SizeProfile("small", groups=3, teams=12, people=100, services=36, history_days=180),
    # The benchmark data set of docs/product.md#budgets.
    "large": SizeProfile("large", groups=40, teams=400, people=4000, services=2000, history_days=730),
}


@dataclass
class DemoOrg:
    """The demo catalog, handed to every app's seeder once it is saved."""

    size: SizeProfile
    seed: int
    now: datetime
    root: Team
    groups: list[Team]
    teams: list[Team]  # kind "team" only
    people: list[Person]
    memberships: list[Membership]
    services: list[Service]
    _people_by_team: dict[str, list[Person]] | None = field(default=None, repr=False)

    @property
    def start(self) -> datetime:
        return self.now - timedelta(days=self.size.history_days)

    @property
    def all_teams(self) -> list[Team]:
        return [self.root, *self.groups, *self.teams]

    def random(self, stream: str) -> random.Random:
        """A generator for ``stream`` (use the app label), independent of every other stream."""
        return _stream(self.seed, stream)

    def people_in(self, team: Team) -> list[Person]:
        """Direct members and leads of ``team``, in a stable order."""
        if self._people_by_team is None:
            self._people_by_team = {}
            for membership in self.memberships:
                self._people_by_team.setdefault(membership.team.slug, []).append(membership.person)
        return self._people_by_team.get(team.slug, [])


Seeder = Callable[[DemoOrg], str]

# The demo's story, shared by every app's seeder so that delivery figures and survey answers
# agree: the small organisation's teams by name, every other team by position in ``org.teams``
# (so the small organisation's Platform teams are typical, its Data teams repeat four scenarios,
# and each scenario recurs about fifty times in the large one). Payments is elite, Checkout has
# flaky CI, Search reviews slowly, Catalog releases weekly and fails often, Developer Tools
# improves over the history.
NAMED_SCENARIOS = {
    "Payments": "elite",
    "Checkout": "flaky-ci",
    "Search": "slow-reviews",
    "Catalog": "low",
    "Developer Tools": "improving",
}
SCENARIO_CYCLE = ["typical", "typical", "typical", "elite", "flaky-ci", "slow-reviews", "low", "improving"]


def team_scenarios(teams: list[Team]) -> dict[str, str]:
    """Team slug → scenario name: by name for the named teams, else by position among the others."""
    scenarios, others = {}, 0
    for team in teams:
        name = NAMED_SCENARIOS.get(team.name)
        if name is None:
            name, others = SCENARIO_CYCLE[others % len(SCENARIO_CYCLE)], others + 1
        scenarios[team.slug] = name
    return scenarios


def first_team(teams: list[Team], scenario: str) -> Team | None:
    """The first team of ``scenario`` in ``teams`` (the named team of the small organisation: Checkout, Search, ...)."""
    scenarios = team_scenarios(teams)
    return next((team for team in teams if scenarios[team.slug] == scenario), None)


@dataclass(frozen=True)
class StoryInitiative:
    """An initiative of the demo's story: the first team of ``scenario`` started it ``weeks`` before the demo's now.

    ``actions/demo.py`` creates it (and freezes it, as its start has come); the delivery and survey seeders plant
    its effect from the same start (``metrics.demo.profiles.EFFECTS``, ``surveys.demo.LIFTS``), reached over
    ``ramp_days``. Its before and after windows are ``window_days`` long, both within the history."""

    key: str
    scenario: str
    weeks: int
    ramp_days: int = 14
    window_days: int = 70

    def starts_on(self, now: datetime) -> date:
        """Its start: the UTC day ``weeks`` before ``now`` (the demo's history runs in UTC)."""
        return (now.astimezone(UTC) - timedelta(weeks=self.weeks)).date()

    def start(self, now: datetime) -> datetime:
        """The first moment of its start day."""
        day = self.starts_on(now)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    def team(self, teams: list[Team]) -> Team | None:
        return first_team(teams, self.scenario)


# Review reminders for the slow-review team (Search): its reviews are picked up sooner from the start, while
# comparable teams' stay as they were. Stabilising the flaky-CI team's CI (Checkout): nothing changes. Both start
# before the survey's second wave opens (about 13 weeks before the demo's now), so the first wave, closed before,
# and the second, closed since, give their survey side a before and an after; their windows (10 weeks after a
# 2-week ramp-up; 10 weeks before) fit in the half year of history.
REVIEW_REMINDERS = StoryInitiative("review-reminders", "slow-reviews", weeks=15)
STABILISE_CI = StoryInitiative("stabilise-ci", "flaky-ci", weeks=14)
STORY_INITIATIVES = (REVIEW_REMINDERS, STABILISE_CI)


@dataclass(frozen=True)
class SeedResult:
    org: DemoOrg
    # (app label, summary line, seconds) per extension seeder, in the order they ran.
    extensions: list[tuple[str, str, float]]


def _stream(seed: int, name: str) -> random.Random:
    # A str seed is hashed with SHA-512, so streams are stable across processes
    # and Python versions (unlike hash(), which PYTHONHASHSEED salts).
    return random.Random(f"e360-demo:{seed}:{name}")


# --- Names ----------------------------------------------------------------------

# (group, its first teams). The small size takes the first two groups; larger
# sizes derive further team names from these by adding a focus (see _team_names).
DOMAINS: list[tuple[str, list[str]]] = [
    ("Commerce", ["Payments", "Checkout", "Search", "Catalog"]),
    ("Platform", ["CI Infrastructure", "Developer Tools", "Observability", "Identity"]),
    ("Data", ["Data Platform", "Analytics Engineering", "Machine Learning", "Data Governance"]),
    ("Mobile", ["iOS", "Android", "Mobile Platform", "Mobile Releases"]),
    ("Growth", ["Onboarding", "Activation", "Experimentation", "Referrals"]),
    ("Fulfilment", ["Warehouse Systems", "Shipping", "Returns", "Inventory"]),
    ("Marketplace", ["Seller Tools", "Listings", "Trust and Safety", "Reviews"]),
    ("Finance Systems", ["Billing", "Invoicing", "Ledger", "Tax"]),
    ("Customer Experience", ["Help Center", "Support Tools", "Chat", "Feedback"]),
    ("Security", ["AppSec", "Cloud Security", "Detection and Response", "Access Management"]),
    ("Infrastructure", ["Compute", "Networking", "Storage", "Databases"]),
    ("Frontend", ["Design System", "Web Platform", "Accessibility", "Web Performance"]),
    ("Content", ["CMS", "Editorial Tools", "Media Pipeline", "Localization"]),
    ("Communications", ["Notifications", "Email Delivery", "Messaging", "Push"]),
    ("Logistics", ["Routing", "Fleet", "Tracking", "Dispatch"]),
    ("Partners", ["Partner API", "Integrations", "Webhooks", "Partner Portal"]),
    ("Pricing", ["Pricing Engine", "Promotions", "Loyalty", "Gift Cards"]),
    ("Accounts", ["Profiles", "Preferences", "Privacy", "Account Recovery"]),
    ("Insights", ["Reporting", "Dashboards", "Forecasting", "Data Products"]),
    ("Reliability", ["SRE", "Incident Tooling", "Capacity", "Chaos Engineering"]),
    ("Enterprise", ["Admin Console", "SSO", "Audit Log", "Provisioning"]),
    ("Discovery", ["Recommendations", "Personalization", "Ranking", "Browse"]),
    ("Risk", ["Fraud", "Compliance", "KYC", "Disputes"]),
    ("Ads", ["Ad Serving", "Campaigns", "Attribution", "Audiences"]),
    ("Internal Tools", ["Back Office", "Workflow Engine", "Scheduling", "Admin Tools"]),
    ("Quality", ["Test Infrastructure", "Release Engineering", "QA Automation", "Build Systems"]),
    ("Developer Experience", ["Internal Platform", "Service Templates", "Documentation", "Local Development"]),
    ("Marketing Technology", ["Landing Pages", "SEO", "Marketing Automation", "Lead Scoring"]),
    ("Orders", ["Order Management", "Cart", "Order History", "Subscriptions"]),
    ("Bookings", ["Reservations", "Availability", "Calendar", "Cancellations"]),
    ("Maps", ["Geocoding", "Places", "Map Tiles", "Location"]),
    ("Media", ["Video", "Image Service", "Streaming", "Transcoding"]),
    ("Social", ["Feed", "Comments", "Follows", "Sharing"]),
    ("Learning", ["Courses", "Assessments", "Certifications", "Learning Paths"]),
    ("Workplace", ["HR Systems", "Payroll", "Expenses", "Procurement"]),
    ("Edge", ["CDN", "API Gateway", "Rate Limiting", "DNS"]),
    ("Search Platform", ["Indexing", "Query Understanding", "Autocomplete", "Relevance"]),
    ("Money Movement", ["Payouts", "Wallet", "Currency", "Reconciliation"]),
    ("Conversational", ["Voice", "Assistants", "Intent Detection", "Dialogue"]),
    ("Devices", ["Firmware", "Device Fleet", "Point of Sale", "Kiosks"]),
]
TEAM_FOCUS = ["API", "Web", "Mobile", "Data", "Platform", "Core", "Integrations", "Reliability"]
SERVICE_PARTS = [
    "API",
    "Service",
    "Worker",
    "Web",
    "Gateway",
    "Scheduler",
    "Consumer",
    "Admin",
    "Store",
    "Sync",
    "Importer",
    "Indexer",
    "Proxy",
    "BFF",
    "Jobs",
    "Events",
]

# Space-separated to keep the lists compact; every pair is a distinct person.
FIRST_NAMES = (  # noqa: SIM905
    "Aaliyah Abdul Ada Adrian Ahmed Aiko Alejandro Alice Amara Amir Ana Andrei Anika Arjun Astrid Ayumi Bao Beatriz "
    "Ben Bianca Bilal Camille Carlos Chen Chiara Chloe Dalia Daniel Daria David Deepa Diego Dmitri Elena Elif Emeka "
    "Emil Emma Esther Ethan Fatima Felix Femi Fiona Gabriel Grace Hana Hannah Hiro Hugo Ibrahim Ines Ingrid Isaac "
    "Ivan Jakub Jamal Jana Javier Jin Joao Jonas Julia Kai Kamala Karim Kenji Kofi Laila Lars Laura Leila Leon Lina "
    "Lucas Lucia Mai Malik Marco Maria Marta Mateo Maya Mei Mia Miguel Mohammed Nadia Naomi Nikhil Nina Noah Nora "
    "Olga Omar Oscar Paulo Pedro Priya Rafael Rania Ravi Rosa Sara Sebastian Sofia Sven Tariq Tomas Uma Valentina "
    "Victor Wei Yara Yusuf Zara Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Abe Adeyemi Ahmed Alvarez Andersen Anderson Bauer Becker Bianchi Brown Castro Chen Chowdhury Costa Cruz Dang "
    "Das Diaz Dubois Eriksson Evans Fernandez Fischer Fontaine Garcia Gomez Gupta Haddad Hansen Hernandez Hoffmann "
    "Horvath Hughes Ibrahim Ito Ivanova Jansen Jensen Johnson Kaur Kelly Khan Kim Kowalski Kruger Larsen Laurent "
    "Lee Lindqvist Lopez Mahmoud Martin Martinez Mendes Meyer Moreau Morris Murphy Nakamura Navarro Nguyen Nielsen "
    "Novak Nowak Obi Okafor Oliveira Olsen Ortiz Park Patel Pereira Petrov Popescu Quinn Rahman Ramos Reddy Reyes "
    "Ribeiro Rossi Russo Sato Schmidt Schneider Silva Singh Smith Sokolov Suzuki Svensson Tanaka Taylor Thomas "
    "Torres Tran Varga Vasquez Wagner Walker Wang Weber Williams Wilson Wong Yamamoto Yilmaz Young Zhang Zimmermann"
).split()
MEMBER_TITLES = [
    ("Software Engineer", 30),
    ("Senior Software Engineer", 30),
    ("Staff Engineer", 8),
    ("Principal Engineer", 2),
    ("Site Reliability Engineer", 8),
    ("Data Engineer", 6),
    ("QA Engineer", 5),
    ("Product Designer", 5),
    ("Product Manager", 6),
]
TIERS = [
    (Service.Tier.CRITICAL, 15),
    (Service.Tier.IMPORTANT, 30),
    (Service.Tier.STANDARD, 40),
    (Service.Tier.EXPERIMENTAL, 15),
]
PRODUCTION_ENVIRONMENTS = [(["production"], 60), (["prod-*"], 25), (["prod-eu", "prod-us"], 15)]


def _pick[T](rng: random.Random, weighted: Sequence[tuple[T, int]]) -> T:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _team_names(size: SizeProfile, rng: random.Random) -> list[tuple[str, list[str]]]:
    """(group name, team names) for every group; team counts differ by at most one."""
    if size.groups > len(DOMAINS):
        raise ValueError(f"At most {len(DOMAINS)} groups; {size.name!r} asks for {size.groups}.")
    per_group, extra = divmod(size.teams, size.groups)
    result = []
    for index, (group, named) in enumerate(DOMAINS[: size.groups]):
        count = per_group + (1 if index < extra else 0)
        names = named[:count]
        if count > len(named):
            # "Payments API", "Checkout Mobile": a named team and a focus, each pair once.
            pairs = [f"{base} {focus}" for base in named for focus in TEAM_FOCUS]
            if count - len(named) > len(pairs):
                raise ValueError(f"At most {len(named) + len(pairs)} teams per group.")
            names = names + rng.sample(pairs, count - len(named))
        result.append((group, names))
    return result


# --- Building -------------------------------------------------------------------


def build_org(*, size: SizeProfile, seed: int, now: datetime) -> DemoOrg:
    """The demo catalog as unsaved model instances; touches no database."""
    if size.people < 1 + size.groups + 2 * size.teams:
        raise ValueError("A size needs people for every lead plus at least one member per team.")
    if size.people > len(FIRST_NAMES) * len(LAST_NAMES):
        raise ValueError(f"At most {len(FIRST_NAMES) * len(LAST_NAMES)} distinct names.")
    team_slugs: set[str] = set()

    def team(name: str, kind: str, parent: Team | None, created: datetime, description: str) -> Team:
        slug = _unique(slugify(name), team_slugs)
        return Team(
            name=name,
            slug=slug,
            kind=kind,
            parent=parent,
            description=description,
            email=f"{slug}@{EMAIL_DOMAIN}",
            created=created,
        )

    rng = _stream(seed, "teams")
    # The tree predates the generated history, so every team exists throughout it.
    start = now - timedelta(days=size.history_days)
    founded = start - timedelta(days=3 * 365)
    root = team("Demo Org", Team.Kind.ORGANIZATION, None, founded, "The demo organisation generated by seed_demo.")
    groups: list[Team] = []
    teams: list[Team] = []
    for group_name, team_names in _team_names(size, rng):
        group = team(
            group_name,
            Team.Kind.GROUP,
            root,
            founded + timedelta(days=rng.randint(0, 365)),
            f"The {group_name} group.",
        )
        groups.append(group)
        for name in team_names:
            created = group.created + timedelta(days=rng.randint(30, (start - group.created).days - 30))
            teams.append(team(name, Team.Kind.TEAM, group, created, f"{name}, part of {group_name}."))

    people, memberships = _people(size, _stream(seed, "people"), root, groups, teams)
    services = _services(size, _stream(seed, "services"), teams, now)
    return DemoOrg(
        size=size,
        seed=seed,
        now=now,
        root=root,
        groups=groups,
        teams=teams,
        people=people,
        memberships=memberships,
        services=services,
    )


def _people(
    size: SizeProfile, rng: random.Random, root: Team, groups: list[Team], teams: list[Team]
) -> tuple[list[Person], list[Membership]]:
    # Distinct (first, last) pairs, so names, handles and emails are unique without suffixes.
    pairs = rng.sample(range(len(FIRST_NAMES) * len(LAST_NAMES)), size.people)
    logins: set[str] = set()
    people = []
    for pair in pairs:
        first, last = FIRST_NAMES[pair // len(LAST_NAMES)], LAST_NAMES[pair % len(LAST_NAMES)]
        first_slug, last_slug = slugify(first), slugify(last)
        style = rng.randrange(4)
        if style == 0:
            login = f"{first_slug}{last_slug}"
        elif style == 1:
            login = f"{first_slug[0]}{last_slug}"
        elif style == 2:
            login = f"{first_slug}-{last_slug}"
        else:
            login = f"{last_slug}{first_slug[0]}{rng.randint(1, 99)}"
        people.append(
            Person(
                name=f"{first} {last}",
                handle=f"{first_slug}-{last_slug}",
                email=f"{first_slug}.{last_slug}@{EMAIL_DOMAIN}",
                github_login=_unique(login, logins),
            )
        )

    memberships: list[Membership] = []

    def join(person: Person, team: Team, role: str) -> None:
        memberships.append(Membership(person=person, team=team, role=role))

    queue = iter(people)
    leader = next(queue)
    leader.title = "VP of Engineering"
    join(leader, root, Membership.Role.LEAD)
    for group in groups:
        person = next(queue)
        person.title = "Director of Engineering"
        join(person, group, Membership.Role.LEAD)
    for team in teams:
        person = next(queue)
        person.title = "Engineering Manager"
        join(person, team, Membership.Role.LEAD)

    # Every team gets one member, then the rest go to teams of uneven appeal.
    members = list(queue)
    weights = [rng.uniform(0.5, 1.5) for _ in teams]
    homes = _at_least(MIN_MEMBERS, teams, teams + rng.choices(teams, weights=weights, k=len(members) - len(teams)))
    siblings: dict[int, list[Team]] = {}
    for team in teams:
        siblings.setdefault(id(team.parent), []).append(team)
    for person, home in zip(members, homes, strict=True):
        person.title = _pick(rng, MEMBER_TITLES)
        join(person, home, Membership.Role.MEMBER)
        # Some people also work in a second team of the same group.
        others = [team for team in siblings[id(home.parent)] if team is not home]
        if others and rng.random() < 0.08:
            join(person, rng.choice(others), Membership.Role.MEMBER)
    return people, memberships


def _at_least(n: int, teams: list[Team], homes: list[Team]) -> list[Team]:
    """``homes`` with people moved from the largest teams to those with fewer than ``n``, so a
    survey can report on every team without exposing anyone. Draws nothing from the random
    stream, so the rest of the catalog stays as the seed made it."""
    n = min(n, len(homes) // max(len(teams), 1))
    homes = list(homes)
    sizes = {id(team): 0 for team in teams}
    for home in homes:
        sizes[id(home)] += 1
    for team in teams:
        while sizes[id(team)] < n:
            largest = max(teams, key=lambda t: sizes[id(t)])
            index = max(i for i, home in enumerate(homes) if home is largest)  # its last newcomer
            homes[index] = team
            sizes[id(largest)] -= 1
            sizes[id(team)] += 1
    return homes


def _services(size: SizeProfile, rng: random.Random, teams: list[Team], now: datetime) -> list[Service]:
    start = now - timedelta(days=size.history_days)
    owners = teams + rng.choices(teams, k=size.services - len(teams)) if size.services > len(teams) else teams
    owners = owners[: size.services]
    slugs: set[str] = set()
    used: dict[int, set[str]] = {}
    services = []
    for owner in owners:
        taken = used.setdefault(id(owner), set())
        part = rng.choice([p for p in SERVICE_PARTS if p not in taken] or SERVICE_PARTS)
        taken.add(part)
        name = f"{owner.name} {part}"
        slug = _unique(slugify(name), slugs)
        tier = _pick(rng, TIERS)
        roll = rng.random()
        if roll < 0.08:
            lifecycle = "deprecated"
        elif tier == Service.Tier.EXPERIMENTAL or roll < 0.18:
            lifecycle = "experimental"
        else:
            lifecycle = "production"
        # Most services predate the history; some are launched during it.
        if rng.random() < 0.15:
            created = start + timedelta(days=rng.randint(0, size.history_days - 14))
        else:
            created = owner.created + timedelta(days=rng.randint(0, (start - owner.created).days))
        repositories = [f"{GITHUB_ORG}/{slug}"]
        if rng.random() < 0.1:
            repositories.append(f"{GITHUB_ORG}/{slug}-config")
        services.append(
            Service(
                name=name,
                slug=slug,
                owner=owner,
                description=f"{part} of the {owner.name} team.",
                tier=tier,
                lifecycle=lifecycle,
                repositories=repositories,
                production_environments=list(_pick(rng, PRODUCTION_ENVIRONMENTS)),
                created=created,
            )
        )
    return services


# --- Saving and extending --------------------------------------------------------


def save_org(org: DemoOrg) -> None:
    """Insert the catalog in a handful of batched queries; fills in the ids."""
    # Level by level: bulk_create copies a saved parent's id into parent_id.
    Team.objects.bulk_create([org.root])
    Team.objects.bulk_create(org.groups, batch_size=BATCH_SIZE)
    Team.objects.bulk_create(org.teams, batch_size=BATCH_SIZE)
    Person.objects.bulk_create(org.people, batch_size=BATCH_SIZE)
    Membership.objects.bulk_create(org.memberships, batch_size=BATCH_SIZE)
    Service.objects.bulk_create(org.services, batch_size=BATCH_SIZE)


def _demo_modules() -> list[tuple[str, ModuleType]]:
    """(app label, ``demo`` module) of every installed app that has one, in INSTALLED_APPS order."""
    modules = []
    for app_config in apps.get_app_configs():
        if f"{app_config.name}.demo" == __name__ or not module_has_submodule(app_config.module, "demo"):
            continue
        modules.append((app_config.label, import_module(f"{app_config.name}.demo")))
    return modules


def discover_seeders() -> list[tuple[str, Seeder]]:
    """(app label, seed function) for every installed app with a ``demo`` module, in INSTALLED_APPS order."""
    seeders = []
    for label, module in _demo_modules():
        seed = getattr(module, "seed", None)
        if not callable(seed):
            raise ImproperlyConfigured(f"{module.__name__} must define seed(org: DemoOrg) -> str.")
        seeders.append((label, seed))
    return seeders


def demo_now(as_of: date | None = None) -> datetime:
    """The end of generated history: midnight UTC of ``as_of``, or without it the current hour
    (so the review queue and open incidents look live when the demo is loaded)."""
    if as_of is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)


def catalog_counts() -> dict[str, int]:
    return {
        "teams": Team.objects.count(),
        "people": Person.objects.count(),
        "services": Service.objects.count(),
    }


@transaction.atomic
def demo_seed(
    *, size: SizeProfile, seed: int, now: datetime, replace: bool = False, with_apps: bool = True
) -> SeedResult:
    """Save the demo catalog, then run every app's seeder; all or nothing.

    ``replace`` first deletes the whole catalog (see ``catalog_clear``) in the
    same transaction, so a failure keeps the old rows.
    """
    if replace:
        catalog_clear()
    org = build_org(size=size, seed=seed, now=now)
    save_org(org)
    extensions = []
    for label, seeder in discover_seeders() if with_apps else []:
        started = time.perf_counter()
        summary = seeder(org)
        extensions.append((label, summary, time.perf_counter() - started))
    return SeedResult(org=org, extensions=extensions)


# --- Signing in as a demo person (DEBUG only) -------------------------------------------


class DemoRole(StrEnum):
    """Whose eyes a demo sign-in borrows; the value is the sign-in URL's slug."""

    DEVELOPER = "developer"
    TEAM_LEAD = "team-lead"
    ORG_VIEWER = "org-viewer"


DEMO_ROLES = {
    DemoRole.DEVELOPER: "a developer",
    DemoRole.TEAM_LEAD: "a team lead",
    DemoRole.ORG_VIEWER: "an organisation viewer",
}
# Whose eyes: the flaky-CI team's first member and its lead; the organisation's lead, who is also
# made an org viewer (the organisation-wide pages are for org viewers).
DEMO_ROLE_TEAM = "Checkout"


@dataclass(frozen=True)
class DemoAccount:
    role: DemoRole
    person: Person

    @property
    def label(self) -> str:
        return DEMO_ROLES[self.role]


def demo_account(role: str) -> DemoAccount | None:
    """The demo person to sign in as for ``role``, or None when the role is unknown or no demo is loaded.

    Only people with a demo email qualify, so a real catalog never offers anyone."""
    demo = Person.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}", is_active=True).order_by("handle")
    if role == DemoRole.DEVELOPER:
        person = demo.filter(memberships__team__name=DEMO_ROLE_TEAM, memberships__role=Membership.Role.MEMBER).first()
    elif role == DemoRole.TEAM_LEAD:
        person = demo.filter(memberships__team__name=DEMO_ROLE_TEAM, memberships__role=Membership.Role.LEAD).first()
    elif role == DemoRole.ORG_VIEWER:
        person = demo.filter(
            memberships__team__kind=Team.Kind.ORGANIZATION, memberships__role=Membership.Role.LEAD
        ).first()
    else:
        return None
    return None if person is None else DemoAccount(DemoRole(role), person)


def demo_accounts() -> list[DemoAccount]:
    """Every role's demo person, in DEMO_ROLES order; empty when no demo is loaded."""
    return [account for role in DEMO_ROLES if (account := demo_account(role)) is not None]


@transaction.atomic
def demo_account_user(*, account: DemoAccount) -> User:
    """The user account of ``account``'s person (``demo_person_user``); an org viewer joins the Org viewers group."""
    user = demo_person_user(person=account.person)
    if account.role == DemoRole.ORG_VIEWER:
        user.groups.add(Group.objects.get(name=ORG_VIEWERS_GROUP))
    return user


@transaction.atomic
def demo_person_user(*, person: Person) -> User:
    """The user account of a demo person, created on first use (no password: it signs in only through the
    DEBUG-only "sign in as" buttons, or by SSO with the demo email) and linked to the person."""
    person = Person.objects.select_for_update(of=("self",)).select_related("user").get(pk=person.pk)
    user = person.user
    if user is None:
        user = User.objects.filter(email__iexact=person.email).first()
    if user is None:
        user = User(username=person.handle, email=person.email)
        user.set_unusable_password()
        user.save()
    user_trust_email(user=user)
    person_link_user(user=user, emails=[person.email])
    return user


class CatalogInUse(Exception):
    """Rows outside the catalog point at catalog rows and forbid deleting them."""


@transaction.atomic
def catalog_clear() -> None:
    """Delete every team, person, membership and service (not user accounts).

    First each app's demo ``clear`` deletes that app's demo rows that protect
    them (the actions demo's initiatives). Rows of other apps that cascade from
    them go too; other rows that protect them raise ``CatalogInUse``.
    """
    for _, module in reversed(_demo_modules()):
        clear = getattr(module, "clear", None)
        if callable(clear):
            clear()
    try:
        Membership.objects.all().delete()
        Service.objects.all().delete()
        Person.objects.all().delete()
        # Team.parent is PROTECT: detach the tree before deleting it.
        Team.objects.exclude(parent=None).update(parent=None)
        Team.objects.all().delete()
    except (ProtectedError, RestrictedError) as exc:
        raise CatalogInUse(str(exc.args[0])) from exc
