from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from e360.access import visible_team_ids
from e360.demo import EMAIL_DOMAIN, SIZES, build_org, catalog_clear, demo_now
from e360.models import Membership, Person, Service, Team, User
from e360.tests.factories import PersonFactory, UserFactory
from metrics.models import PullRequest

AS_OF = "2026-03-31"


def seed(*args: str, apps: bool = False) -> str:
    """Run seed_demo; the catalog alone unless ``apps`` (other apps' demo data is tested by them)."""
    out = StringIO()
    call_command("seed_demo", "--as-of", AS_OF, *args, *([] if apps else ["--catalog-only"]), stdout=out)
    return out.getvalue()


def dump(
    teams: Iterable[Team], people: Iterable[Person], memberships: Iterable[Membership], services: Iterable[Service]
) -> str:
    """Every field but the database ids, ordered by natural keys; saved or unsaved instances alike."""
    data = {
        "teams": sorted(
            [t.slug, t.name, t.kind, t.parent.slug if t.parent else None, t.description, t.email, t.created.isoformat()]
            for t in teams
        ),
        "people": sorted(
            [p.handle, p.name, p.email, p.title, p.github_login, p.gitlab_login, p.is_active] for p in people
        ),
        "memberships": sorted([m.person.handle, m.team.slug, m.role] for m in memberships),
        "services": sorted(
            [
                s.slug,
                s.name,
                s.owner.slug,
                s.description,
                s.tier,
                s.lifecycle,
                s.repositories,
                s.production_environments,
                s.created.isoformat(),
            ]
            for s in services
        ),
    }
    return json.dumps(data, sort_keys=True)


def db_dump() -> str:
    return dump(
        Team.objects.select_related("parent"),
        Person.objects.all(),
        Membership.objects.select_related("person", "team"),
        Service.objects.select_related("owner"),
    )


# --- Shape -------------------------------------------------------------------------


@pytest.mark.django_db
def test_small_has_the_documented_counts():
    out = seed()

    assert Team.objects.filter(kind=Team.Kind.ORGANIZATION).count() == 1
    assert Team.objects.filter(kind=Team.Kind.GROUP).count() == 3
    assert Team.objects.filter(kind=Team.Kind.TEAM).count() == 12
    assert Person.objects.count() == 100
    assert Service.objects.count() == 36
    memberships = Membership.objects.count()
    assert memberships >= 100
    assert (
        f"Seeded demo organisation (small, seed 1): 16 teams, 100 people, 36 services, {memberships} memberships" in out
    )


@pytest.mark.django_db
def test_small_has_the_commerce_platform_and_data_groups():
    seed()

    groups = {g.name: sorted(g.children.values_list("name", flat=True)) for g in Team.objects.filter(kind="group")}
    assert groups == {
        "Commerce": ["Catalog", "Checkout", "Payments", "Search"],
        "Platform": ["CI Infrastructure", "Developer Tools", "Identity", "Observability"],
        "Data": ["Analytics Engineering", "Data Governance", "Data Platform", "Machine Learning"],
    }


@pytest.mark.django_db
def test_every_team_but_the_root_has_a_parent_and_a_lead():
    seed()

    root = Team.objects.get(parent=None)
    assert root.kind == Team.Kind.ORGANIZATION
    assert set(Team.objects.filter(kind=Team.Kind.GROUP).values_list("parent", flat=True)) == {root.pk}
    assert set(Team.objects.filter(kind=Team.Kind.TEAM).values_list("parent__kind", flat=True)) == {"group"}
    leads = Team.objects.annotate(leads=Count("memberships", filter=Q(memberships__role=Membership.Role.LEAD)))
    assert set(leads.values_list("leads", flat=True)) == {1}


@pytest.mark.django_db
def test_every_person_belongs_somewhere_and_every_team_has_members():
    seed()

    assert not Person.objects.filter(memberships=None).exists()
    assert not Team.objects.filter(kind=Team.Kind.TEAM).exclude(memberships__role=Membership.Role.MEMBER).exists()


@pytest.mark.django_db
def test_people_have_unique_plausible_identities():
    seed()

    people = list(Person.objects.all())
    assert len({p.email for p in people}) == len({p.handle for p in people}) == len(people)
    assert len({p.github_login for p in people}) == len(people)
    for person in people:
        first, last = person.name.lower().split(" ")
        assert person.email == f"{first}.{last}@{EMAIL_DOMAIN}"
        assert person.handle == f"{first}-{last}"
        assert person.title
        assert person.user is None


@pytest.mark.django_db
def test_every_service_has_an_owner_team_and_a_repository():
    seed()

    for service in Service.objects.select_related("owner"):
        assert service.owner.kind == Team.Kind.TEAM
        assert service.repositories[0] == f"demo-org/{service.slug}"
        assert service.tier in {1, 2, 3, 4}
        assert service.lifecycle in {"production", "experimental", "deprecated"}
        assert service.production_environments
    assert set(Service.objects.values_list("tier", flat=True)) == {1, 2, 3, 4}


@pytest.mark.django_db
def test_history_ends_on_the_as_of_day():
    seed()

    end = demo_now(date.fromisoformat(AS_OF))
    assert max(Service.objects.values_list("created", flat=True)) < end
    # Teams exist for the whole generated history.
    history_start = end - timedelta(days=SIZES["small"].history_days)
    assert max(Team.objects.values_list("created", flat=True)) < history_start


@pytest.mark.django_db
def test_a_group_lead_sees_the_teams_below_the_group():
    seed()
    commerce = Team.objects.get(slug="commerce")
    lead = Person.objects.get(memberships__team=commerce, memberships__role=Membership.Role.LEAD)
    lead.user = UserFactory(username="lead", email=lead.email)
    lead.save()

    assert visible_team_ids(lead.user) == {commerce.pk, *commerce.children.values_list("pk", flat=True)}


# --- Determinism -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_seed_gives_identical_rows():
    seed("--seed", "7")
    first = db_dump()
    catalog_clear()
    seed("--seed", "7")

    assert db_dump() == first


@pytest.mark.django_db
def test_the_saved_rows_are_the_built_ones():
    seed("--seed", "3")

    org = build_org(size=SIZES["small"], seed=3, now=demo_now(date.fromisoformat(AS_OF)))
    assert db_dump() == dump(org.all_teams, org.people, org.memberships, org.services)


def test_a_fresh_interpreter_builds_the_same_org():
    # Guards against anything that depends on str hashing (set order) or process state.
    code = textwrap.dedent(f"""
        import django
        django.setup()
        from datetime import date
        from e360.demo import SIZES, build_org, demo_now
        from e360.tests.test_seed_demo import dump
        org = build_org(size=SIZES["small"], seed=5, now=demo_now(date.fromisoformat({AS_OF!r})))
        print(dump(org.all_teams, org.people, org.memberships, org.services))
    """)
    org = build_org(size=SIZES["small"], seed=5, now=demo_now(date.fromisoformat(AS_OF)))
    expected = dump(org.all_teams, org.people, org.memberships, org.services)

    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "DJANGO_SETTINGS_MODULE": "e360.settings"}
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.strip() == expected


def test_different_seeds_give_different_organisations():
    now = demo_now(date.fromisoformat(AS_OF))
    one = build_org(size=SIZES["small"], seed=1, now=now)
    two = build_org(size=SIZES["small"], seed=2, now=now)

    assert {p.email for p in one.people} != {p.email for p in two.people}
    assert [s.slug for s in one.services] != [s.slug for s in two.services]


def test_random_streams_are_stable_and_independent():
    org = build_org(size=SIZES["small"], seed=1, now=demo_now(date.fromisoformat(AS_OF)))

    assert org.random("metrics").random() == org.random("metrics").random()
    assert org.random("metrics").random() != org.random("surveys").random()


# --- Modes ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_if_empty_seeds_an_empty_catalog():
    out = seed("--if-empty")

    assert "Seeded demo organisation" in out
    assert Person.objects.count() == 100


@pytest.mark.django_db
def test_if_empty_leaves_a_non_empty_catalog_alone(team, service):
    out = seed("--if-empty")

    assert "The catalog is not empty (1 teams, 0 people, 1 services); not loading" in out
    assert list(Team.objects.values_list("slug", flat=True)) == ["payments"]
    assert not Person.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_non_empty_catalog_without_replace():
    PersonFactory()

    with pytest.raises(CommandError, match=r"The catalog is not empty \(0 teams, 1 people, 0 services\).*--replace"):
        seed()
    assert Person.objects.count() == 1
    assert not Team.objects.exists()


@pytest.mark.django_db
def test_it_replaces_an_existing_catalog(owner, subteam, service):
    out = seed("--seed", "2", "--replace")

    assert "Deleted the previous catalog (2 teams, 1 people, 1 services)." in out
    assert not Team.objects.filter(slug__in=["payments-api"]).exists()
    replaced = db_dump()
    owner.refresh_from_db()  # the account stays; its person went with the catalog
    assert not Person.objects.filter(user=owner).exists()

    catalog_clear()
    seed("--seed", "2")
    assert db_dump() == replaced


def test_replace_and_if_empty_exclude_each_other():
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("seed_demo", "--replace", "--if-empty")


# --- Large ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_large_has_the_documented_counts():
    started = time.perf_counter()
    out = seed("--size", "large")
    elapsed = time.perf_counter() - started

    assert Team.objects.filter(kind=Team.Kind.GROUP).count() == 40
    assert Team.objects.filter(kind=Team.Kind.TEAM).count() == 400
    assert Team.objects.count() == 441
    assert Person.objects.count() == 4000
    assert Service.objects.count() == 2000
    assert not Team.objects.exclude(memberships__role=Membership.Role.LEAD).exists()
    assert not Team.objects.exclude(kind=Team.Kind.ORGANIZATION).filter(parent=None).exists()
    assert "(large, seed 1): 441 teams, 4,000 people, 2,000 services" in out
    assert elapsed < 30, f"seed_demo --size large took {elapsed:.1f} s"


# --- Extension seeders ---------------------------------------------------------------


@pytest.fixture
def demo_apps(tmp_path, monkeypatch, settings) -> Iterator[Callable[..., None]]:
    """Install throwaway apps, each with a demo.py of the given source."""
    names: list[str] = []

    def install(**apps: str) -> None:
        for name, source in apps.items():
            (tmp_path / name).mkdir()
            (tmp_path / name / "__init__.py").write_text("")
            (tmp_path / name / "demo.py").write_text(textwrap.dedent(source))
            names.append(name)
        monkeypatch.syspath_prepend(str(tmp_path))
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, *apps]

    yield install
    for module in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[module]


RECORDING_SEEDER = """
    calls = []

    def seed(org):
        calls.append(org)
        return f"{{len(org.services)}} services seen by {name}"
"""


@pytest.mark.django_db
def test_installed_apps_seeders_run_in_order_with_the_saved_org(demo_apps):
    demo_apps(
        demo_app_zulu=RECORDING_SEEDER.format(name="zulu"),
        demo_app_alpha=RECORDING_SEEDER.format(name="alpha"),
    )

    out = seed(apps=True)

    lines = out.splitlines()
    assert lines[0].startswith("Seeded demo organisation (small, seed 1)")
    ours = [line for line in lines if line.startswith("  demo_app_")]  # the project's own apps seed too
    assert ours[0].startswith("  demo_app_zulu: 36 services seen by zulu (")
    assert ours[1].startswith("  demo_app_alpha: 36 services seen by alpha (")
    [org] = sys.modules["demo_app_zulu.demo"].calls
    assert org.size.name == "small"
    assert org.now == demo_now(date.fromisoformat(AS_OF))
    assert org.start == org.now - timedelta(days=180)
    assert all(service.pk for service in org.services)
    assert [p.pk for p in org.people_in(org.root)] == [Person.objects.get(memberships__team__parent=None).pk]


@pytest.mark.django_db
def test_a_failing_seeder_leaves_the_database_as_it_was(demo_apps, team):
    demo_apps(demo_app_broken="def seed(org):\n    raise RuntimeError('boom')\n")

    with pytest.raises(RuntimeError, match="boom"):
        seed("--replace", apps=True)

    assert list(Team.objects.values_list("slug", flat=True)) == ["payments"]
    assert not Person.objects.exists()


@pytest.mark.django_db
def test_a_demo_module_without_seed_fails_loudly(demo_apps):
    demo_apps(demo_app_typo="def sead(org):\n    return ''\n")

    with pytest.raises(ImproperlyConfigured, match=r"demo_app_typo.demo must define seed\(org: DemoOrg\)"):
        seed(apps=True)
    assert not Team.objects.exists()


# --- The small demo fills every page --------------------------------------------------


@pytest.mark.django_db
def test_the_small_demo_has_figures_on_the_correlations_page_and_a_live_review_queue(client):
    from metrics.selectors import Area, review_queue

    seed(apps=True)
    client.force_login(UserFactory(is_superuser=True))

    body = client.get("/insights/correlations/").content.decode()
    figures = re.findall(r"ρ = −?\d\.\d\d", body)
    assert len(figures) >= 3  # the chosen pair and others in the table of all pairs
    assert "n = 1" in body  # ten teams or more answered and delivered
    # The within-team change between the two closed waves has figures for most pairs (people answer every wave).
    assert "Within-team change: each team's change from wave 1 to wave 2" in body
    assert body.count("too few teams to tell") <= 3

    queue = review_queue(Area.organisation(), demo_now(date.fromisoformat(AS_OF)))
    assert sum(1 for n in queue.totals if n) >= 3  # open pull requests of several ages
    assert 0 < queue.late < queue.total  # a few late, not all
    assert len(queue.teams) >= 6
    reviewed = PullRequest.objects.filter(first_review_at__isnull=False).only("opened_at", "first_review_at")
    within_a_day = [pr.first_review_at - pr.opened_at <= timedelta(days=1) for pr in reviewed]
    assert sum(within_a_day) / len(within_a_day) > 0.75


# --- Signing in as a demo person (DEBUG only) ----------------------------------------


@pytest.fixture
def demo_debug(settings, db):
    settings.DEBUG = True
    seed()


def test_the_login_page_offers_the_three_demo_people_in_debug(client, demo_debug):
    body = client.get("/accounts/login/").content.decode()
    for role, label in [
        ("developer", "a developer"),
        ("team-lead", "a team lead"),
        ("org-viewer", "an organisation viewer"),
    ]:
        assert f'action="/accounts/demo/{role}/"' in body
        assert f"Sign in as {label}" in body


def test_the_login_page_offers_nobody_without_debug(client, demo_debug, settings):
    settings.DEBUG = False
    body = client.get("/accounts/login/").content.decode()
    assert "/accounts/demo/" not in body and "Sign in as a" not in body


def test_the_login_page_offers_nobody_without_the_demo(client, settings, team, owner):
    settings.DEBUG = True
    assert "/accounts/demo/" not in client.get("/accounts/login/").content.decode()


def test_signing_in_as_the_team_lead_lands_on_the_portal_as_that_lead(client, demo_debug):
    response = client.post("/accounts/demo/team-lead/")
    assert response.status_code == 302 and response["Location"] == "/"

    lead = Membership.objects.get(team__name="Checkout", role=Membership.Role.LEAD).person
    lead.refresh_from_db()
    assert lead.user is not None and not lead.user.is_staff and not lead.user.has_usable_password()
    assert client.get("/").wsgi_request.user == lead.user
    assert client.get("/teams/checkout/").status_code == 200
    assert client.get("/teams/payments/").status_code == 404  # a lead of Checkout only
    # Signing in again reuses the account.
    client.post("/accounts/demo/team-lead/")
    assert Person.objects.get(pk=lead.pk).user == lead.user


def test_the_developer_is_a_member_and_the_org_viewer_sees_everything(client, demo_debug):
    client.post("/accounts/demo/developer/")
    developer = client.get("/").wsgi_request.user
    assert developer.person.memberships.filter(team__name="Checkout", role=Membership.Role.MEMBER).exists()
    assert client.get("/insights/correlations/").status_code == 404

    client.post("/accounts/demo/org-viewer/")
    viewer = client.get("/").wsgi_request.user
    assert viewer.has_perm("e360.view_org") and not viewer.is_superuser
    assert client.get("/insights/correlations/").status_code == 200


def test_demo_sign_in_is_404_without_debug(client, demo_debug, settings):
    settings.DEBUG = False
    assert client.post("/accounts/demo/team-lead/").status_code == 404
    assert not User.objects.exists()


def test_demo_sign_in_is_404_for_anyone_but_a_demo_person(client, settings, db):
    settings.DEBUG = True
    assert client.post("/accounts/demo/developer/").status_code == 404  # no demo loaded
    # A real catalog with a Checkout team and its lead offers nobody: no demo email.
    lead = PersonFactory(email="lead@example.com")
    Membership.objects.create(person=lead, team=Team.objects.create(name="Checkout", slug="checkout"), role="lead")
    assert client.post("/accounts/demo/team-lead/").status_code == 404
    seed("--replace")
    assert client.post("/accounts/demo/admin/").status_code == 404  # not a role
    assert not User.objects.exists()


def test_demo_sign_in_takes_a_post_with_a_csrf_token(demo_debug):
    from django.test import Client

    assert Client().get("/accounts/demo/team-lead/").status_code == 405
    assert Client(enforce_csrf_checks=True).post("/accounts/demo/team-lead/").status_code == 403
    assert not User.objects.exists()
