"""``manage.py import_catalog`` and the ``catalog_import`` service, against the database."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from e360.catalog_files import CatalogInvalid, CatalogRecords, parse_csv
from e360.models import Membership, Person, Service, Team
from e360.services import catalog_import
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory

DATA = Path(__file__).parent / "data" / "catalog"
BACKSTAGE = DATA / "acme" / "catalog-info.yaml"
CSV_FILES = [DATA / "acme-csv" / "teams.csv", DATA / "acme-csv" / "people.csv", DATA / "acme-csv" / "services.csv"]
MALFORMED = DATA / "malformed"


def run(*files: Path | str, dry_run: bool = False) -> str:
    out = StringIO()
    args = [str(file) for file in files] + (["--dry-run"] if dry_run else [])
    call_command("import_catalog", *args, stdout=out)
    return out.getvalue().strip()


def run_failing(*files: Path | str) -> str:
    with pytest.raises(CommandError) as excinfo:
        run(*files)
    return str(excinfo.value)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def catalog_state() -> dict[str, list[tuple]]:
    """Everything the import writes, without ids and timestamps, for before/after comparisons."""
    return {
        "teams": sorted(Team.objects.values_list("slug", "name", "kind", "parent__slug", "description", "email")),
        "people": sorted(
            Person.objects.values_list("handle", "name", "email", "title", "github_login", "gitlab_login")
        ),
        "services": sorted(
            (
                s.slug,
                s.name,
                s.owner.slug,
                s.tier,
                s.lifecycle,
                s.repositories,
                s.production_environments,
                s.description,
            )
            for s in Service.objects.select_related("owner")
        ),
        "memberships": sorted(Membership.objects.values_list("person__handle", "team__slug", "role")),
    }


ACME_SUMMARY = (
    "teams: 6 created, 0 updated, 0 unchanged; "
    "people: 5 created, 0 updated, 0 unchanged; "
    "services: 3 created, 0 updated, 0 unchanged; "
    "memberships: 5 created, 0 updated, 0 unchanged"
)


class TestBackstage:
    def test_it_imports_a_backstage_catalog(self, db):
        output = run(BACKSTAGE)

        assert output == f"{ACME_SUMMARY}; skipped entities: 2 (API: 1, Location: 1)"
        state = catalog_state()
        assert state["teams"] == [
            ("acme", "ACME Corp", "organization", None, "", "everyone@acme.example"),
            ("engineering", "engineering", "group", "acme", "Everyone who builds and runs the product", ""),
            ("payments", "Payments", "team", "engineering", "Checkout, ledger and payouts", "payments@acme.example"),
            ("payments-api", "Payments API", "team", "payments", "", ""),
            # "squad" is not a kind e360 knows: a team. No spec.parent, but engineering lists it as a child.
            ("platform", "Platform", "team", "engineering", "", ""),
            ("search", "Search", "team", "engineering", "", ""),
        ]
        assert state["people"] == [
            ("alice", "Alice Adams", "alice@acme.example", "Staff Engineer", "alice-gh", ""),
            ("bob", "Bob Brown", "bob@acme.example", "", "", "bobby"),
            ("charlie", "Charlie Chen", "charlie@acme.example", "", "", ""),
            # Backstage's "dana.scully" becomes a URL-safe handle; metadata.title is the fallback name.
            ("dana-scully", "Dana Scully", "dana.scully@acme.example", "", "", ""),
            ("erin", "Erin Evans", "erin@acme.example", "", "", ""),
        ]
        checkout, ledger, search_api = state["services"]
        assert checkout == (
            "checkout",
            "Checkout",
            "payments",
            1,
            "production",
            ["acme/checkout"],
            ["production", "prod-eu"],
            "Takes the money",
        )
        assert ledger == (
            "ledger",
            "ledger",
            "payments-api",
            2,
            "production",
            ["acme/ledger", "acme/ledger-migrations"],
            [],
            "",
        )
        # No tier stated: the default, 3. GitLab projects keep their host.
        assert search_api == (
            "search-api",
            "Search API",
            "search",
            3,
            "experimental",
            ["gitlab.com/acme/search/search-api"],
            [],
            "",
        )
        assert state["memberships"] == [
            ("alice", "payments", "lead"),
            ("bob", "payments", "member"),
            ("charlie", "search", "member"),
            ("dana-scully", "payments-api", "member"),
            ("erin", "platform", "lead"),
        ]

    def test_running_twice_changes_nothing(self, db):
        run(BACKSTAGE)
        before = catalog_state()
        ids = sorted(Membership.objects.values_list("id", flat=True))

        output = run(BACKSTAGE)

        assert output.startswith(
            "teams: 0 created, 0 updated, 6 unchanged; people: 0 created, 0 updated, 5 unchanged; "
            "services: 0 created, 0 updated, 3 unchanged; memberships: 0 created, 0 updated, 5 unchanged"
        )
        assert catalog_state() == before
        assert sorted(Membership.objects.values_list("id", flat=True)) == ids

    def test_the_order_of_documents_does_not_matter(self, db, tmp_path):
        documents = list(yaml.safe_load_all(BACKSTAGE.read_text()))
        reversed_file = write(tmp_path, "reversed.yaml", yaml.safe_dump_all(documents[::-1]))
        run(BACKSTAGE)
        expected = catalog_state()
        Membership.objects.all().delete()
        Service.objects.all().delete()
        Person.objects.all().delete()
        Team.objects.update(parent=None)
        Team.objects.all().delete()

        output = run(reversed_file)

        assert output.startswith(ACME_SUMMARY)
        assert catalog_state() == expected

    def test_references_may_point_into_another_file(self, db, tmp_path):
        documents = list(yaml.safe_load_all(BACKSTAGE.read_text()))
        by_kind = {kind: [d for d in documents if d["kind"] == kind] for kind in ("Group", "User", "Component")}
        files = [write(tmp_path, f"{kind}.yaml", yaml.safe_dump_all(docs)) for kind, docs in by_kind.items()]

        output = run(*files[::-1])

        assert output.startswith(ACME_SUMMARY)
        assert Service.objects.get(slug="checkout").owner.slug == "payments"


class TestCsv:
    def test_it_imports_the_same_organisation_from_csv(self, db):
        run(BACKSTAGE)
        from_backstage = catalog_state()
        Membership.objects.all().delete()
        Service.objects.all().delete()
        Person.objects.all().delete()
        Team.objects.update(parent=None)
        Team.objects.all().delete()

        output = run(*CSV_FILES)

        assert output == f"{ACME_SUMMARY}; skipped entities: 0"
        assert catalog_state() == from_backstage

    def test_csv_and_backstage_agree_so_importing_both_changes_nothing(self, db):
        run(BACKSTAGE)

        output = run(*CSV_FILES)

        assert output == (
            "teams: 0 created, 0 updated, 6 unchanged; people: 0 created, 0 updated, 5 unchanged; "
            "services: 0 created, 0 updated, 3 unchanged; memberships: 0 created, 0 updated, 5 unchanged; "
            "skipped entities: 0"
        )

    def test_csv_files_may_come_in_any_order(self, db):
        output = run(*CSV_FILES[::-1])

        assert output.startswith(ACME_SUMMARY)
        assert Team.objects.get(slug="payments-api").parent.slug == "payments"

    def test_running_csv_twice_changes_nothing(self, db):
        run(*CSV_FILES)
        before = catalog_state()

        output = run(*CSV_FILES)

        assert output.count("0 created, 0 updated") == 4
        assert catalog_state() == before

    def test_a_joined_on_date_is_set_when_known_and_left_alone_when_not(self, db, tmp_path):
        run(write(tmp_path, "people.csv", "handle,name,email,joined_on\nbo,Bo,bo@x.io,2026-11-30\nal,Al,al@x.io,\n"))
        assert dict(Person.objects.values_list("handle", "joined_on")) == {"bo": date(2026, 11, 30), "al": None}

        run(write(tmp_path, "people.csv", "handle,name,email\nbo,Bo,bo@x.io\n"))  # no column: left alone
        assert Person.objects.get(handle="bo").joined_on == date(2026, 11, 30)

    def test_a_csv_error_names_the_file_line_and_column(self, db):
        message = run_failing(MALFORMED / "people.csv")

        assert 'people.csv line 4: email "x" is not an email address' in message
        assert "people.csv line 5: name is missing" in message
        assert 'people.csv line 5: teams "ops:boss" has role "boss"; use member or lead' in message
        assert Person.objects.count() == 0

    def test_a_misspelt_column_is_an_error(self, db):
        message = run_failing(MALFORMED / "unknown-column.csv")

        assert 'unknown-column.csv line 1: people header has unknown columns: "github_logn"' in message

    def test_a_missing_required_column_is_an_error(self, db):
        message = run_failing(MALFORMED / "services-without-owner.csv")

        assert "services-without-owner.csv line 1: services header is missing required columns: owner" in message


class TestValidation:
    def test_a_malformed_file_writes_nothing(self, db):
        existing = TeamFactory(slug="payments", name="Old payments name")

        with pytest.raises(CommandError):
            run(BACKSTAGE, *CSV_FILES[1:], MALFORMED / "invalid-entities.yaml")

        assert list(Team.objects.values_list("slug", "name")) == [("payments", "Old payments name")]
        assert Team.objects.get() == existing
        assert Person.objects.count() == Service.objects.count() == Membership.objects.count() == 0

    def test_error_names_file_entity_and_field(self, db):
        message = run_failing(MALFORMED / "invalid-entities.yaml")

        header, *problems = message.splitlines()
        assert header == "6 problems found; nothing was written."
        assert [problem.strip().split("invalid-entities.yaml ", 1)[1] for problem in problems] == [
            'line 2: Group "ops": spec.parent "user:default/alice" must refer to a Group',
            'line 11: User "frank": spec.profile.email is missing',
            'line 20: User "gina": spec.profile.email "gina-at-acme" is not an email address',
            'line 20: User "gina": spec.memberOf "nowhere" is not a known team '
            "(not in these files nor in the database)",
            'line 29: Component "billing": metadata.annotations["e360.io/tier"] "7" is not a tier '
            "(1 to 4, or tier-1 to tier-4)",
            'line 29: Component "billing": spec.owner "nowhere" is not a known team '
            "(not in these files nor in the database)",
        ]
        # Not reported: frank's and gina's memberships of "ops", a team that is still known despite its own error.

    def test_it_reports_problems_from_every_file_in_the_order_given(self, db):
        message = run_failing(MALFORMED / "people.csv", MALFORMED / "syntax.yaml", MALFORMED / "cycle.yaml")

        files = [line.split(" line ")[0].rsplit("/", 1)[-1] for line in message.splitlines()[1:]]
        assert files == ["people.csv", "people.csv", "people.csv", "syntax.yaml", "cycle.yaml"]
        # The wording after "expected" depends on whether PyYAML uses libyaml.
        assert "syntax.yaml line 8: is not valid YAML: " in message
        assert "expected ',' or ']'" in message

    def test_a_parent_cycle_is_an_error(self, db):
        message = run_failing(MALFORMED / "cycle.yaml")

        assert 'cycle.yaml line 1: Group "red": spec.parent "blue" makes a cycle: red → blue → green → red' in message
        assert Team.objects.count() == 0

    def test_a_cycle_through_teams_already_in_the_database_is_an_error(self, db, tmp_path):
        top = TeamFactory(slug="top")
        TeamFactory(slug="middle", parent=top)
        teams = write(tmp_path, "teams.csv", "slug,name,parent\ntop,Top,middle\n")

        message = run_failing(teams)

        assert 'teams.csv line 2: Team "top": parent "middle" makes a cycle: top → middle → top' in message
        assert Team.objects.get(slug="top").parent is None

    def test_an_unknown_reference_is_an_error(self, db, tmp_path):
        teams = write(tmp_path, "teams.csv", "slug,name,parent\nsearch,Search,nowhere\n")
        people = write(tmp_path, "people.csv", "handle,name,email,teams\nzoe,Zoe,zoe@acme.example,search;ghosts:lead\n")

        message = run_failing(teams, people)

        assert 'teams.csv line 2: Team "search": parent "nowhere" is not a known team' in message
        assert 'people.csv line 2: Person "zoe": teams "ghosts" is not a known team' in message

    def test_a_different_person_with_the_same_email_is_an_error(self, db, tmp_path):
        PersonFactory(handle="alice-old", email="alice@acme.example")

        message = run_failing(*CSV_FILES)

        assert (
            'people.csv line 2: Person "alice": email "alice@acme.example" is already used by '
            'Person "alice-old" in the database'
        ) in message

    def test_the_same_entity_defined_twice_is_an_error(self, db, tmp_path):
        again = write(tmp_path, "more-teams.csv", "slug,name\nsearch,Search again\n")

        message = run_failing(CSV_FILES[0], again)

        assert 'more-teams.csv line 2: Team "search": Team "search" is already defined at ' in message
        assert 'teams.csv line 6 (Team "search")' in message

    def test_unreadable_and_unsupported_files_are_errors(self, db, tmp_path):
        notes = write(tmp_path, "notes.txt", "hello")

        message = run_failing(tmp_path / "missing.yaml", notes)

        assert "missing.yaml: cannot be read: No such file or directory" in message
        assert "notes.txt: is neither .yaml, .yml nor .csv" in message


class TestDatabase:
    def test_references_may_point_at_rows_already_in_the_database(self, db, tmp_path):
        TeamFactory(slug="payments", name="Payments")
        PersonFactory(handle="alice", email="alice@acme.example")
        teams = write(tmp_path, "teams.csv", "slug,name,parent\nledger-team,Ledger,payments\n")
        services = write(
            tmp_path, "services.csv", "slug,name,owner\nledger,Ledger,ledger-team\nwallet,Wallet,payments\n"
        )
        memberships = write(
            tmp_path,
            "people.csv",
            "handle,name,email,teams\nalice,Alice,alice@acme.example,payments:lead;ledger-team\n",
        )

        run(teams, services, memberships)

        assert Team.objects.get(slug="ledger-team").parent.slug == "payments"
        assert Service.objects.get(slug="wallet").owner.slug == "payments"
        assert sorted(Membership.objects.values_list("team__slug", "role")) == [
            ("ledger-team", "member"),
            ("payments", "lead"),
        ]

    def test_it_updates_rows_and_leaves_fields_the_file_does_not_mention(self, db, tmp_path):
        person = PersonFactory(handle="alice", name="A.", email="alice@old.example", title="CTO", github_login="old")
        people = write(
            tmp_path, "people.csv", "handle,name,email,github_login\nalice,Alice Adams,alice@acme.example,\n"
        )

        output = run(people)

        person.refresh_from_db()
        assert (person.name, person.email, person.title, person.github_login) == (
            "Alice Adams",
            "alice@acme.example",
            "CTO",  # no title column: left alone
            "",  # an empty cell clears
        )
        assert output.startswith("teams: 0 created, 0 updated, 0 unchanged; people: 0 created, 1 updated, 0 unchanged")

    def test_backstage_annotations_that_are_absent_leave_fields_alone(self, db):
        payments = TeamFactory(slug="payments")
        ServiceFactory(slug="ledger", owner=payments, tier=1, production_environments=["live"])

        run(BACKSTAGE)

        ledger = Service.objects.get(slug="ledger")
        # tier-2 is stated by a label; production environments are not mentioned for ledger.
        assert (ledger.tier, ledger.production_environments, ledger.owner.slug) == (2, ["live"], "payments-api")

    def test_memberships_are_upserted_and_never_deleted(self, db):
        run(BACKSTAGE)
        bob = Person.objects.get(handle="bob")
        MembershipFactory(person=bob, team=Team.objects.get(slug="search"), role=Membership.Role.LEAD)
        Membership.objects.filter(person__handle="alice", team__slug="payments").update(role=Membership.Role.MEMBER)

        output = run(BACKSTAGE)

        assert "memberships: 0 created, 1 updated, 4 unchanged" in output
        assert sorted(bob.memberships.values_list("team__slug", "role")) == [("payments", "member"), ("search", "lead")]
        assert Membership.objects.get(person__handle="alice").role == Membership.Role.LEAD

    def test_a_team_listed_as_a_child_moves_under_that_group(self, db, tmp_path):
        TeamFactory(slug="acme")
        legacy = TeamFactory(slug="legacy")  # only in the database
        group = write(
            tmp_path,
            "catalog-info.yaml",
            "kind: Group\nmetadata: {name: acme}\nspec: {type: org, children: [group:default/legacy]}\n",
        )

        output = run(group)

        legacy.refresh_from_db()
        assert legacy.parent.slug == "acme"
        assert output.startswith("teams: 0 created, 2 updated, 0 unchanged")  # acme's kind, legacy's parent

    def test_people_may_swap_emails(self, db, tmp_path):
        PersonFactory(handle="ann", email="one@acme.example")
        PersonFactory(handle="ben", email="two@acme.example")
        people = write(
            tmp_path, "people.csv", "handle,name,email\nann,Ann,two@acme.example\nben,Ben,one@acme.example\n"
        )

        run(people)

        assert sorted(Person.objects.values_list("handle", "email")) == [
            ("ann", "two@acme.example"),
            ("ben", "one@acme.example"),
        ]

    def test_a_dry_run_reports_without_writing(self, db):
        output = run(BACKSTAGE, dry_run=True)

        assert output == f"Dry run, nothing written: {ACME_SUMMARY}; skipped entities: 2 (API: 1, Location: 1)"
        assert Team.objects.count() == Person.objects.count() == Service.objects.count() == 0

    def test_a_dry_run_of_a_second_import_reports_the_changes(self, db, tmp_path):
        run(*CSV_FILES)
        before = catalog_state()
        renamed = write(tmp_path, "teams.csv", "slug,name\nsearch,Search & Discovery\nnew-team,New team\n")

        output = run(renamed, dry_run=True)

        assert output.startswith("Dry run, nothing written: teams: 1 created, 1 updated, 0 unchanged")
        assert catalog_state() == before

    def test_a_dry_run_still_reports_every_problem(self, db):
        with pytest.raises(CommandError, match="email is missing"):
            run(MALFORMED / "invalid-entities.yaml", dry_run=True)

    def test_the_service_raises_with_every_problem(self, db):
        records = parse_csv("handle,name,email,teams\nzoe,Zoe,zoe,nowhere\n", "people.csv")

        with pytest.raises(CatalogInvalid) as excinfo:
            catalog_import(records=records)

        assert [str(error) for error in excinfo.value.errors] == [
            'people.csv line 2: email "zoe" is not an email address',
            'people.csv line 2: Person "zoe": teams "nowhere" is not a known team (not in these files nor in the '
            "database)",
        ]


class TestScale:
    @staticmethod
    def organisation(people: int, teams: int) -> CatalogRecords:
        team_rows = "".join(f"team-{t},Team {t},{'' if t == 0 else 'team-0'}\n" for t in range(teams))
        person_rows = "".join(
            f"person-{p},Person {p},person-{p}@acme.example,person-{p}-gh,team-{p % teams}"
            f"{':lead' if p < teams else ''};team-0\n"
            for p in range(people)
        )
        service_rows = "".join(f"service-{t},Service {t},team-{t},{1 + t % 4}\n" for t in range(teams))
        return CatalogRecords.combine(
            [
                parse_csv(f"slug,name,parent\n{team_rows}", "teams.csv"),
                parse_csv(f"handle,name,email,github_login,teams\n{person_rows}", "people.csv"),
                parse_csv(f"slug,name,owner,tier\n{service_rows}", "services.csv"),
            ]
        )

    def test_four_thousand_people_take_a_handful_of_queries(self, db, django_assert_max_num_queries):
        records = self.organisation(people=4000, teams=50)

        with django_assert_max_num_queries(30):
            summary = catalog_import(records=records)

        # Everyone is in their own team and in team-0; for every 50th person that is the same membership.
        assert (summary.teams.created, summary.people.created, summary.memberships.created) == (50, 4000, 7920)
        # person-0 is listed in team-0 as lead and as member: lead wins.
        assert Membership.objects.filter(role=Membership.Role.LEAD).count() == 50

        with django_assert_max_num_queries(10):
            again = catalog_import(records=records)

        assert not again.changed
        assert again.people.unchanged == 4000
