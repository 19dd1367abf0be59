"""The pure catalog-file parser and checks: no database involved."""

from __future__ import annotations

import textwrap
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from e360.catalog_files import (
    CatalogError,
    CatalogInvalid,
    CatalogRecords,
    Counts,
    ExistingCatalog,
    ImportSummary,
    MembershipRecord,
    Origin,
    PersonRecord,
    TeamRecord,
    backstage_slug,
    csv_kind,
    is_email,
    parse_backstage,
    parse_csv,
    parse_entity_ref,
    parse_tier,
    read_catalog_file,
    resolve,
    split_list,
    team_kind,
)
from e360.catalog_files import backstage as backstage_parser


def backstage(text: str) -> CatalogRecords:
    return parse_backstage(textwrap.dedent(text), "catalog-info.yaml")


def csv(text: str, name: str = "file.csv") -> CatalogRecords:
    return parse_csv(textwrap.dedent(text).lstrip(), name)


def messages(records: CatalogRecords) -> list[str]:
    return [str(error) for error in records.errors]


def only(items: list):
    assert len(items) == 1, items
    return items[0]


class TestSmallParsers:
    @pytest.mark.parametrize(
        ("ref", "expected"),
        [
            ("alice", (None, "alice")),
            ("user:alice", ("user", "alice")),
            ("user:default/alice", ("user", "alice")),
            ("User:Default/Alice", ("user", "Alice")),
            ("default/alice", (None, "alice")),
            ("  group:platform  ", ("group", "platform")),
            (":alice", (None, "alice")),
        ],
    )
    def test_it_splits_entity_references(self, ref, expected):
        assert parse_entity_ref(ref) == expected

    @pytest.mark.parametrize(
        ("name", "slug"), [("alice", "alice"), ("Jane.Doe", "jane-doe"), ("team_a-1", "team_a-1"), (" x ", "x")]
    )
    def test_backstage_names_become_url_safe_slugs(self, name, slug):
        assert backstage_slug(name) == slug

    @pytest.mark.parametrize(
        ("value", "tier"),
        [(1, 1), ("1", 1), ("4", 4), ("tier-1", 1), ("tier1", 1), ("Tier 2", 2), ("TIER_3", 3), (" tier-4 ", 4)],
    )
    def test_it_reads_tiers(self, value, tier):
        assert parse_tier(value) == tier

    @pytest.mark.parametrize("value", [0, 5, "0", "5", "tier-5", "tier", "", "one", "1.0", "tier--1", True, None])
    def test_it_rejects_what_is_not_a_tier(self, value):
        assert parse_tier(value) is None

    @given(st.integers(min_value=-1000, max_value=1000))
    def test_a_number_is_a_tier_exactly_when_it_is_1_to_4(self, number):
        assert parse_tier(number) == (number if 1 <= number <= 4 else None)
        assert parse_tier(f"tier-{number}") == parse_tier(number)

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            ("organization", "organization"),
            ("org", "organization"),
            ("Organisation", "organization"),
            ("department", "group"),
            ("division", "group"),
            ("group", "group"),
            ("area", "group"),
            ("team", "team"),
            (" Team ", "team"),
            ("squad", None),
            ("", None),
        ],
    )
    def test_it_maps_group_types_to_team_kinds(self, value, kind):
        assert team_kind(value) == kind

    def test_lists_are_stripped_with_empties_and_repeats_dropped(self):
        assert split_list(" a, b,,a ,  c ", ",") == ("a", "b", "c")
        assert split_list("", ";") == ()

    @pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.org", "x_y@d-e.io"])
    def test_it_accepts_email_addresses(self, email):
        assert is_email(email)

    @pytest.mark.parametrize("email", ["x", "a@b", "@b.co", "a@.co.", "a b@c.de", "a@b@c.de", "a@b.c d", ""])
    def test_it_rejects_what_is_not_an_email_address(self, email):
        assert not is_email(email)

    def test_it_rejects_overlong_email_addresses(self):
        assert not is_email(f"{'a' * 250}@b.co")


class TestErrors:
    def test_an_error_reads_file_line_entity_field_and_message(self):
        error = CatalogError('"x" is not an email address', file="a.yaml", line=3, entity='User "bo"', field="email")
        assert str(error) == 'a.yaml line 3: User "bo": email "x" is not an email address'

    @pytest.mark.parametrize(
        ("kwargs", "text"),
        [
            ({"file": "a.csv", "line": 4, "field": "email"}, "a.csv line 4: email is missing"),
            ({"file": "a.yaml", "entity": 'User "alice"'}, 'a.yaml: User "alice": is missing'),
            ({"file": "a.yaml"}, "a.yaml: is missing"),
        ],
    )
    def test_an_error_leaves_out_what_it_does_not_know(self, kwargs, text):
        assert str(CatalogError("is missing", **kwargs)) == text

    def test_catalog_invalid_lists_every_error(self):
        errors = [CatalogError("one", file="a"), CatalogError("two", file="b")]
        assert str(CatalogInvalid(errors)) == "a: one\nb: two"
        assert CatalogInvalid(errors).errors == errors


class TestBackstageGroup:
    def test_it_reads_a_group(self):
        records = backstage("""
            apiVersion: backstage.io/v1alpha1
            kind: Group
            metadata:
              name: payments
              title: Payments title
              description: Takes money
              annotations:
                e360.io/leads: "alice, user:default/Bob.Builder"
            spec:
              type: team
              profile: {displayName: Payments team, email: Pay@Example.COM}
              parent: group:default/engineering
              children: [group:default/payments-api, ledger]
              members: [alice, user:carol]
        """)

        assert messages(records) == []
        team = only(records.teams)
        assert (team.slug, team.name, team.kind, team.parent, team.children, team.description, team.email) == (
            "payments",
            "Payments team",
            "team",
            "engineering",
            ("payments-api", "ledger"),
            "Takes money",
            "pay@example.com",
        )
        assert team.origin == Origin("catalog-info.yaml", 2, 'Group "payments"', backstage=True)
        assert [(m.person, m.team, m.role, m.field) for m in records.memberships] == [
            ("alice", "payments", "member", "spec.members"),
            ("carol", "payments", "member", "spec.members"),
            ("alice", "payments", "lead", 'metadata.annotations["e360.io/leads"]'),
            ("bob-builder", "payments", "lead", 'metadata.annotations["e360.io/leads"]'),
        ]

    def test_the_name_falls_back_to_the_title_then_the_entity_name(self):
        records = backstage("""
            kind: Group
            metadata: {name: a, title: The A}
            spec: {type: team}
            ---
            kind: Group
            metadata: {name: b}
            spec: {type: team, profile: {}}
        """)
        assert [(t.slug, t.name) for t in records.teams] == [("a", "The A"), ("b", "b")]

    def test_what_a_group_does_not_mention_is_none(self):
        team = only(backstage("kind: Group\nmetadata: {name: a}\n").teams)
        assert (team.kind, team.parent, team.children, team.description, team.email) == (None, None, (), None, None)

    def test_an_unknown_group_type_is_a_team(self):
        assert only(backstage("kind: Group\nmetadata: {name: a}\nspec: {type: chapter}\n").teams).kind == "team"

    def test_references_of_the_wrong_kind_are_errors(self):
        records = backstage("""
            kind: Group
            metadata:
              name: a
              annotations: {e360.io/leads: "group:b"}
            spec: {parent: user:alice, children: [user:bob], members: [group:c]}
        """)
        assert messages(records) == [
            'catalog-info.yaml line 2: Group "a": spec.parent "user:alice" must refer to a Group',
            'catalog-info.yaml line 2: Group "a": spec.children "user:bob" must refer to a Group',
            'catalog-info.yaml line 2: Group "a": spec.members "group:c" must refer to a User',
            'catalog-info.yaml line 2: Group "a": metadata.annotations["e360.io/leads"] "group:b" must refer to a User',
        ]
        # The team itself is still known, so that references to it do not pile up more errors.
        assert only(records.teams).slug == "a"

    def test_bad_shapes_are_errors(self):
        records = backstage("""
            kind: Group
            metadata: {name: a}
            spec:
              children: b
              members: [3, ""]
              profile: {email: not-an-email}
        """)
        assert messages(records) == [
            'catalog-info.yaml line 2: Group "a": spec.children must be a list',
            'catalog-info.yaml line 2: Group "a": spec.members has an entry that is not an entity reference: 3',
            "catalog-info.yaml line 2: Group \"a\": spec.members has an entry that is not an entity reference: ''",
            'catalog-info.yaml line 2: Group "a": spec.profile.email "not-an-email" is not an email address',
        ]

    def test_a_spec_that_is_not_a_mapping_is_reported_once(self):
        records = backstage("kind: Group\nmetadata: {name: a}\nspec: [1, 2]\n")
        assert messages(records) == ['catalog-info.yaml line 1: Group "a": spec must be a mapping']

    def test_a_name_that_cannot_be_a_slug_is_an_error(self):
        records = backstage("kind: Group\nmetadata: {name: 'a team'}\n")
        assert messages(records) == [
            'catalog-info.yaml line 1: Group "a team": metadata.name "a team" is not a valid name '
            '(letters, digits, "-", "_", ".")'
        ]
        assert records.teams == []

    def test_an_overlong_display_name_is_an_error(self):
        records = backstage(f"kind: Group\nmetadata: {{name: a}}\nspec: {{profile: {{displayName: {'x' * 201}}}}}\n")
        assert messages(records) == [
            'catalog-info.yaml line 1: Group "a": spec.profile.displayName is longer than 200 characters'
        ]


class TestBackstageUser:
    def test_it_reads_a_user(self):
        records = backstage("""
            kind: User
            metadata:
              name: Alice.Adams
              annotations:
                github.com/user-login: alice-gh
                gitlab.com/user-login: alice-gl
                e360.io/title: Staff Engineer
            spec:
              profile: {displayName: Alice Adams, email: Alice@Example.com}
              memberOf: [payments, group:default/search]
        """)

        assert messages(records) == []
        assert only(records.people) == PersonRecord(
            handle="alice-adams",
            name="Alice Adams",
            email="alice@example.com",
            origin=Origin("catalog-info.yaml", 2, 'User "Alice.Adams"', backstage=True),
            title="Staff Engineer",
            github_login="alice-gh",
            gitlab_login="alice-gl",
        )
        assert [(m.person, m.team, m.role, m.field) for m in records.memberships] == [
            ("alice-adams", "payments", "member", "spec.memberOf"),
            ("alice-adams", "search", "member", "spec.memberOf"),
        ]

    def test_a_joined_on_annotation_is_an_iso_date(self):
        def user(joined: str):
            text = f"kind: User\nmetadata: {{name: bo, annotations: {{e360.io/joined-on: '{joined}'}}}}\n"
            return backstage(text + "spec: {profile: {email: b@x.io}}\n")

        assert only(user("2026-11-30").people).joined_on == date(2026, 11, 30)
        records = user("30/11/2026")
        assert messages(records) == [
            'catalog-info.yaml line 1: User "bo": metadata.annotations["e360.io/joined-on"] "30/11/2026" is not a '
            "date (YYYY-MM-DD)"
        ]
        assert only(records.people).joined_on is None

    def test_absent_annotations_are_none_and_the_name_falls_back(self):
        person = only(
            backstage("kind: User\nmetadata: {name: bo, title: Bo B}\nspec: {profile: {email: b@x.io}}\n").people
        )
        assert (person.name, person.title, person.github_login, person.gitlab_login) == ("Bo B", None, None, None)

    def test_an_email_is_required(self):
        records = backstage("kind: User\nmetadata: {name: alice}\nspec: {profile: {displayName: Alice}}\n")
        assert messages(records) == ['catalog-info.yaml line 1: User "alice": spec.profile.email is missing']

    def test_a_user_with_a_bad_email_is_kept_so_its_memberships_resolve(self):
        records = backstage("kind: User\nmetadata: {name: alice}\nspec: {profile: {email: nope}, memberOf: [a]}\n")
        assert messages(records) == [
            'catalog-info.yaml line 1: User "alice": spec.profile.email "nope" is not an email address'
        ]
        assert only(records.people).email == ""
        assert only(records.memberships).team == "a"

    def test_annotations_must_be_a_mapping_of_strings(self):
        records = backstage("""
            kind: User
            metadata: {name: a, annotations: {github.com/user-login: [x]}}
            spec: {profile: {email: a@x.io}}
            ---
            kind: User
            metadata: {name: b, annotations: [x]}
            spec: {profile: {email: b@x.io}}
        """)
        assert messages(records) == [
            'catalog-info.yaml line 2: User "a": metadata.annotations["github.com/user-login"] must be a string',
            'catalog-info.yaml line 6: User "b": metadata.annotations must be a mapping',
        ]

    def test_an_overlong_login_is_an_error(self):
        records = backstage(
            f"kind: User\nmetadata: {{name: a, annotations: {{gitlab.com/user-login: {'x' * 101}}}}}\n"
            "spec: {profile: {email: a@x.io}}\n"
        )
        assert messages(records) == [
            'catalog-info.yaml line 1: User "a": metadata.annotations["gitlab.com/user-login"] '
            "is longer than 100 characters"
        ]


class TestBackstageComponent:
    def test_it_reads_a_component(self):
        records = backstage("""
            kind: Component
            metadata:
              name: checkout
              title: Checkout
              description: Takes the money
              annotations:
                e360.io/tier: tier-1
                github.com/project-slug: acme/checkout
                gitlab.com/project-slug: /acme/web/checkout-web/
                gitlab.com/instance: gitlab.acme.example
                e360.io/repositories: acme/checkout, acme/checkout-infra
                e360.io/production-environments: "production, prod-*"
            spec: {type: service, lifecycle: production, owner: group:default/payments}
        """)

        assert messages(records) == []
        service = only(records.services)
        assert (service.slug, service.name, service.owner, service.description, service.tier, service.lifecycle) == (
            "checkout",
            "Checkout",
            "payments",
            "Takes the money",
            1,
            "production",
        )
        assert service.repositories == (
            "acme/checkout",
            "gitlab.acme.example/acme/web/checkout-web",
            "acme/checkout-infra",
        )
        assert service.production_environments == ("production", "prod-*")

    @pytest.mark.parametrize("owner", ["group:default/payments", "group:payments", "payments", "Group:Payments"])
    def test_the_owner_may_be_written_as_any_group_reference(self, owner):
        records = backstage(f"kind: Component\nmetadata: {{name: c}}\nspec: {{owner: '{owner}'}}\n")
        assert only(records.services).owner == "payments"

    def test_an_owner_that_is_a_user_is_an_error(self):
        records = backstage("kind: Component\nmetadata: {name: c}\nspec: {owner: 'user:default/alice'}\n")
        assert messages(records) == [
            'catalog-info.yaml line 1: Component "c": spec.owner "user:default/alice" must refer to a Group'
        ]

    def test_an_owner_is_required(self):
        records = backstage("kind: Component\nmetadata: {name: c}\nspec: {lifecycle: production}\n")
        assert messages(records) == ['catalog-info.yaml line 1: Component "c": spec.owner is missing']

    def test_the_tier_may_come_from_a_label_and_the_annotation_wins(self):
        records = backstage("""
            kind: Component
            metadata: {name: a, labels: {tier: tier-3}}
            spec: {owner: x}
            ---
            kind: Component
            metadata: {name: b, labels: {tier: "3"}, annotations: {e360.io/tier: "2"}}
            spec: {owner: x}
            ---
            kind: Component
            metadata: {name: c, annotations: {e360.io/tier: 4}}
            spec: {owner: x}
        """)
        assert [s.tier for s in records.services] == [3, 2, 4]

    def test_a_bad_tier_is_an_error_naming_where_it_came_from(self):
        records = backstage("""
            kind: Component
            metadata: {name: a, labels: {tier: gold}}
            spec: {owner: x}
        """)
        assert messages(records) == [
            'catalog-info.yaml line 2: Component "a": metadata.labels["tier"] "gold" is not a tier '
            "(1 to 4, or tier-1 to tier-4)"
        ]

    def test_without_repository_or_environment_annotations_they_are_none(self):
        service = only(backstage("kind: Component\nmetadata: {name: a}\nspec: {owner: x}\n").services)
        assert (service.tier, service.lifecycle, service.repositories, service.production_environments) == (
            None,
            None,
            None,
            None,
        )

    def test_repositories_are_deduplicated(self):
        records = backstage("""
            kind: Component
            metadata:
              name: a
              annotations: {github.com/project-slug: acme/a, e360.io/repositories: "acme/a, acme/b"}
            spec: {owner: x}
        """)
        assert only(records.services).repositories == ("acme/a", "acme/b")

    def test_a_github_slug_must_be_owner_slash_name(self):
        records = backstage("""
            kind: Component
            metadata: {name: a, annotations: {github.com/project-slug: checkout}}
            spec: {owner: x}
        """)
        assert messages(records) == [
            'catalog-info.yaml line 2: Component "a": metadata.annotations["github.com/project-slug"] '
            '"checkout" is not owner/name'
        ]

    def test_an_overlong_lifecycle_is_an_error(self):
        records = backstage(f"kind: Component\nmetadata: {{name: a}}\nspec: {{owner: x, lifecycle: {'x' * 41}}}\n")
        assert messages(records) == [
            'catalog-info.yaml line 1: Component "a": spec.lifecycle is longer than 40 characters'
        ]


class TestBackstageDocuments:
    def test_other_kinds_are_counted_as_skipped(self):
        records = backstage("""
            kind: Location
            metadata: {name: org}
            ---
            kind: API
            metadata: {name: a}
            ---
            kind: System
            metadata: {name: s}
            ---
            kind: API
            metadata: {name: b}
        """)
        assert records.skipped == Counter({"API": 2, "Location": 1, "System": 1})
        assert messages(records) == []

    def test_kinds_are_matched_case_insensitively(self):
        records = backstage("kind: group\nmetadata: {name: a}\n---\nkind: USER\nmetadata: {name: b}\n")
        assert [t.slug for t in records.teams] == ["a"]
        assert messages(records) == ['catalog-info.yaml line 4: User "b": spec.profile.email is missing']

    def test_empty_documents_are_ignored(self):
        records = backstage("---\n---\nkind: Group\nmetadata: {name: a}\n---\n")
        assert [t.slug for t in records.teams] == ["a"]
        assert messages(records) == []

    def test_documents_that_are_not_entities_are_errors(self):
        records = backstage("""
            - a list
            ---
            metadata: {name: nameless}
            ---
            kind: [Group]
            ---
            kind: Group
            metadata: {title: No name}
            ---
            kind: User
            metadata: [x]
            ---
            kind: Component
            spec: {owner: a}
        """)
        assert messages(records) == [
            "catalog-info.yaml line 2: is not a mapping (expected a Backstage entity)",
            "catalog-info.yaml line 4: kind is missing",
            "catalog-info.yaml line 6: kind must be a string",
            "catalog-info.yaml line 8: Group: metadata.name is missing",
            "catalog-info.yaml line 11: User: metadata must be a mapping",
            "catalog-info.yaml line 14: Component: metadata is missing",
        ]

    def test_a_yaml_syntax_error_names_its_line(self):
        records = backstage("kind: Group\nmetadata: {name: a}\n---\nkind: Group\nmetadata: {name: [b\n")
        assert only(records.teams).slug == "a"
        (message,) = messages(records)
        # The rest of the wording depends on whether PyYAML uses libyaml.
        assert message.startswith("catalog-info.yaml line 6: is not valid YAML: ")
        assert "expected ',' or ']'" in message

    def test_the_pure_python_yaml_loader_gives_the_same_result(self, monkeypatch):
        text = Path(__file__).parent.joinpath("data", "catalog", "acme", "catalog-info.yaml").read_text()
        with_libyaml = parse_backstage(text, "catalog-info.yaml")
        monkeypatch.setattr(backstage_parser, "_SafeLoader", yaml.SafeLoader)

        assert parse_backstage(text, "catalog-info.yaml") == with_libyaml

    def test_it_reads_a_path_and_names_it_as_given(self, tmp_path):
        path = tmp_path / "catalog-info.yaml"
        path.write_bytes("\ufeffkind: Group\nmetadata: {name: a}\n".encode())

        assert only(parse_backstage(path).teams).origin.file == str(path)
        assert only(parse_backstage(path, "org.yaml").teams).origin.file == "org.yaml"
        assert parse_backstage(path).files == [str(path)]

    def test_an_unreadable_file_is_an_error(self, tmp_path):
        binary = tmp_path / "binary.yaml"
        binary.write_bytes(b"\xff\xfe\x00kind")

        assert messages(parse_backstage(tmp_path / "missing.yaml", "missing.yaml")) == [
            "missing.yaml: cannot be read: No such file or directory"
        ]
        assert messages(parse_backstage(binary, "binary.yaml")) == ["binary.yaml: is not UTF-8 text"]


class TestCsv:
    @pytest.mark.parametrize(
        ("header", "kind"),
        [
            ("slug,name", "teams"),
            ("slug,name,parent,kind,description,email", "teams"),
            ("handle,name,email", "people"),
            ("name,email,teams", "people"),
            ("slug,name,owner", "services"),
            ("slug,name,tier", "services"),
            ("slug,name,parent,owner", None),
            ("name,email", None),
            ("", None),
        ],
    )
    def test_the_kind_comes_from_the_header(self, header, kind):
        assert csv_kind(header.split(",")) == kind

    def test_it_reads_teams(self):
        records = csv("""
            slug,name,parent,kind,description,email
            acme,ACME,,org,,
            payments,Payments,acme,team,"Checkout, ledger",Pay@Acme.example
        """)
        assert messages(records) == []
        assert records.teams == [
            TeamRecord("acme", "ACME", Origin("file.csv", 2, 'Team "acme"'), "organization", "", (), "", ""),
            TeamRecord(
                "payments",
                "Payments",
                Origin("file.csv", 3, 'Team "payments"'),
                "team",
                "acme",
                (),
                "Checkout, ledger",
                "pay@acme.example",
            ),
        ]

    def test_columns_left_out_are_none_so_the_fields_are_left_alone(self):
        team = only(csv("slug,name\na,A\n").teams)
        assert (team.kind, team.parent, team.description, team.email) == (None, None, None, None)
        person = only(csv("handle,name,email\nbo,Bo,bo@x.io\n").people)
        assert (person.title, person.github_login, person.gitlab_login) == (None, None, None)
        service = only(csv("slug,name,owner\ns,S,a\n").services)
        assert (service.tier, service.lifecycle, service.repositories, service.production_environments) == (
            None,
            None,
            None,
            None,
        )

    def test_a_joined_on_column_is_an_iso_date_and_an_empty_cell_leaves_it_alone(self):
        records = csv("handle,name,email,joined_on\nbo,Bo,bo@x.io,2026-11-30\nal,Al,al@x.io,\ncy,Cy,cy@x.io,soon\n")
        assert [p.joined_on for p in records.people] == [date(2026, 11, 30), None, None]
        assert messages(records) == ['file.csv line 4: joined_on "soon" is not a date (YYYY-MM-DD)']

    def test_empty_cells_clear_the_fields(self):
        person = only(csv("handle,name,email,title,github_login\nbo,Bo,bo@x.io,,\n").people)
        assert (person.title, person.github_login) == ("", "")
        service = only(csv("slug,name,owner,tier,repositories\ns,S,a,,\n").services)
        assert (service.tier, service.repositories) == (None, ())  # an int cannot be cleared: left alone

    def test_it_reads_people_and_their_teams(self):
        records = csv("""
            handle,name,email,title,github_login,gitlab_login,teams
            alice,Alice Adams,Alice@Acme.example,CTO,alice-gh,alice-gl,payments:lead; search ;ops:MEMBER
        """)
        assert messages(records) == []
        assert only(records.people) == PersonRecord(
            handle="alice",
            name="Alice Adams",
            email="alice@acme.example",
            origin=Origin("file.csv", 2, 'Person "alice"'),
            title="CTO",
            github_login="alice-gh",
            gitlab_login="alice-gl",
        )
        assert [(m.person, m.team, m.role, m.field) for m in records.memberships] == [
            ("alice", "payments", "lead", "teams"),
            ("alice", "search", "member", "teams"),
            ("alice", "ops", "member", "teams"),
        ]

    def test_it_reads_services(self):
        records = csv("""
            slug,name,owner,tier,lifecycle,repositories,production_environments,description
            checkout,Checkout,payments,Tier 1,production,acme/checkout; acme/web,production;prod-*,Money
        """)
        service = only(records.services)
        assert (service.tier, service.repositories, service.production_environments, service.description) == (
            1,
            ("acme/checkout", "acme/web"),
            ("production", "prod-*"),
            "Money",
        )

    def test_the_header_is_forgiving_about_case_spaces_and_a_byte_order_mark(self):
        records = csv("\ufeff Slug , NAME \na,A\n")
        assert only(records.teams).slug == "a"

    def test_value_errors_name_the_line_and_column(self):
        records = csv(
            """
            handle,name,email,title,teams
            ok,Ok,ok@x.io,,
            bad handle,,x,,payments:boss;bad slug
            ok2,Ok2,ok2@x.io,{long},
        """.replace("{long}", "t" * 201)
        )
        assert messages(records) == [
            'file.csv line 3: handle "bad handle" is not a slug (letters, digits, "-" and "_")',
            "file.csv line 3: name is missing",
            'file.csv line 3: email "x" is not an email address',
            'file.csv line 3: teams "payments:boss" has role "boss"; use member or lead',
            'file.csv line 3: teams "bad slug" is not a team slug',
            "file.csv line 4: title is longer than 200 characters",
        ]

    def test_team_and_service_value_errors(self):
        teams = csv("slug,name,parent,kind,email\na,A,b c,tribe,nope\n")
        services = csv("slug,name,owner,tier,lifecycle\ns,S,,9,{long}\n".replace("{long}", "l" * 41))
        assert messages(teams) == [
            'file.csv line 2: parent "b c" is not a slug (letters, digits, "-" and "_")',
            'file.csv line 2: kind "tribe" is not one of organization, group, team',
            'file.csv line 2: email "nope" is not an email address',
        ]
        assert messages(services) == [
            "file.csv line 2: owner is missing",
            'file.csv line 2: tier "9" is not a tier (1 to 4, or tier-1 to tier-4)',
            "file.csv line 2: lifecycle is longer than 40 characters",
        ]

    def test_header_errors_are_reported_together(self):
        records = csv("slug,nam,tier,tier\na,A,1,1\n", "services.csv")
        assert messages(records) == [
            "services.csv line 1: services header is missing required columns: name, owner",
            'services.csv line 1: services header has unknown columns: "nam" (known: slug,name,owner,tier,lifecycle,'
            "repositories,production_environments,description)",
            "services.csv line 1: header repeats columns: tier",
        ]
        assert records.services == []

    def test_an_unrecognised_header_is_an_error(self):
        assert messages(csv("name,email\n", "x.csv")) == [
            "x.csv line 1: header is not one of teams, people or services (teams: slug,name,parent,kind,description,"
            "email; people: handle,name,email,title,github_login,gitlab_login,teams,joined_on; services: slug,name,"
            "owner,tier,"
            "lifecycle,repositories,production_environments,description)"
        ]

    def test_an_empty_file_is_an_error(self):
        assert messages(csv("", "empty.csv")) == ["empty.csv: is empty (expected a header line)"]

    def test_line_numbers_count_blank_lines_and_multi_line_cells(self):
        records = csv('slug,name,description\n\na,A,"two\nlines"\n,,\nb,B,\nc,,\n')
        assert [(t.slug, t.origin.line) for t in records.teams] == [("a", 3), ("b", 6)]
        assert messages(records) == ["file.csv line 7: name is missing"]

    def test_rows_with_too_many_values_are_errors_and_short_rows_are_padded(self):
        records = csv("slug,name,email\na,A,a@x.io,extra\nb,B\n")
        assert messages(records) == ["file.csv line 2: has 4 values but the header has 3 columns"]
        assert only(records.teams).email == ""

    def test_a_csv_syntax_error_names_its_line(self):
        records = csv('slug,name\na,A\nb,"B"x\n')
        assert messages(records) == ["file.csv line 3: is not valid CSV: ',' expected after '\"'"]

    def test_files_are_read_by_extension(self, tmp_path):
        (tmp_path / "teams.CSV").write_text("slug,name\na,A\n")
        (tmp_path / "org.yml").write_text("kind: Group\nmetadata: {name: b}\n")
        (tmp_path / "org.json").write_text("{}")

        assert only(read_catalog_file(tmp_path / "teams.CSV").teams).slug == "a"
        assert only(read_catalog_file(tmp_path / "org.yml").teams).slug == "b"
        assert messages(read_catalog_file(tmp_path / "org.json", "org.json")) == [
            "org.json: is neither .yaml, .yml nor .csv"
        ]


def records_from(*parts: tuple[str, str]) -> CatalogRecords:
    """Combined records from (name, text) pairs, parsed as CSV or Backstage by extension."""
    return CatalogRecords.combine(
        parse_csv(textwrap.dedent(text).lstrip(), name)
        if name.endswith(".csv")
        else parse_backstage(textwrap.dedent(text), name)
        for name, text in parts
    )


def resolved_messages(records: CatalogRecords, existing: ExistingCatalog | None = None) -> list[str]:
    return [str(error) for error in resolve(records, existing or ExistingCatalog()).errors]


class TestResolve:
    def test_it_keys_records_and_works_out_parents_and_memberships(self):
        records = records_from(
            (
                "org.yaml",
                """
                kind: Group
                metadata: {name: eng, annotations: {e360.io/leads: ann}}
                spec: {children: [web, legacy], members: [ann]}
                ---
                kind: Group
                metadata: {name: web}
                spec: {parent: eng}
                """,
            ),
            ("people.csv", "handle,name,email,teams\nann,Ann,ann@x.io,eng;web\n"),
        )

        resolved = resolve(records, ExistingCatalog(team_parents={"legacy": None}))

        assert resolved.errors == []
        assert list(resolved.teams) == ["eng", "web"]
        assert resolved.parents == {"web": "eng", "legacy": "eng"}
        # Stated as member and as lead of eng: lead wins, whatever the order.
        assert resolved.memberships == {("ann", "eng"): "lead", ("ann", "web"): "member"}

    def test_a_csv_root_team_states_its_parent_as_none(self):
        resolved = resolve(records_from(("teams.csv", "slug,name,parent\na,A,\n")), ExistingCatalog())
        assert resolved.parents == {"a": ""}

    def test_references_may_point_at_the_database(self):
        records = records_from(
            ("teams.csv", "slug,name,parent\nweb,Web,eng\n"),
            ("services.csv", "slug,name,owner\nsite,Site,eng\n"),
            ("people.csv", "handle,name,email,teams\nann,Ann,ann@x.io,eng\n"),
            ("more.csv", "handle,name,email,teams\nbo,Bo,bo@x.io,web\n"),
        )
        existing = ExistingCatalog(team_parents={"eng": None}, person_emails={"cy": "cy@x.io"})
        assert resolved_messages(records, existing) == []

    def test_unknown_references_are_errors(self):
        records = records_from(
            (
                "org.yaml",
                """
                kind: Group
                metadata: {name: eng}
                spec: {parent: nowhere, children: [ghost], members: [nobody]}
                ---
                kind: Component
                metadata: {name: site}
                spec: {owner: group:default/nobody-team}
                """,
            ),
            ("people.csv", "handle,name,email,teams\nann,Ann,ann@x.io,void\n"),
        )
        suffix = " (not in these files nor in the database)"
        assert resolved_messages(records) == [
            f'org.yaml line 2: Group "eng": spec.parent "nowhere" is not a known team{suffix}',
            f'org.yaml line 2: Group "eng": spec.children "ghost" is not a known team{suffix}',
            f'org.yaml line 2: Group "eng": spec.members "nobody" is not a known person{suffix}',
            f'org.yaml line 6: Component "site": spec.owner "nobody-team" is not a known team{suffix}',
            f'people.csv line 2: Person "ann": teams "void" is not a known team{suffix}',
        ]

    def test_a_membership_of_an_unknown_person_in_an_unknown_team_reports_both(self):
        records = CatalogRecords(
            memberships=[MembershipRecord("nobody", "void", "member", Origin("x.csv", 2), "teams")], files=["x.csv"]
        )
        assert len(resolved_messages(records)) == 2

    def test_the_same_slug_or_handle_twice_is_an_error(self):
        records = records_from(
            ("a.csv", "slug,name\nweb,Web\n"),
            (
                "b.yaml",
                "kind: Group\nmetadata: {name: Web}\n---\n"
                "kind: User\nmetadata: {name: jo.e}\nspec: {profile: {email: j@x.io}}\n",
            ),
            ("c.csv", "handle,name,email\njo-e,Joe,joe@x.io\n"),
            ("d.csv", "slug,name,owner\ns,S,web\ns,S2,web\n"),
        )
        assert resolved_messages(records) == [
            'b.yaml line 1: Group "Web": Team "web" is already defined at a.csv line 2 (Team "web")',
            'c.csv line 2: Person "jo-e": Person "jo-e" is already defined at b.yaml line 4 (User "jo.e")',
            'd.csv line 3: Service "s": Service "s" is already defined at d.csv line 2 (Service "s")',
        ]

    def test_a_child_whose_parent_is_stated_differently_is_an_error(self):
        records = records_from(
            (
                "org.yaml",
                """
                kind: Group
                metadata: {name: a}
                spec: {children: [c]}
                ---
                kind: Group
                metadata: {name: b}
                spec: {children: [c, d]}
                ---
                kind: Group
                metadata: {name: c}
                spec: {parent: a}
                ---
                kind: Group
                metadata: {name: d}
                spec: {parent: d-parent}
                ---
                kind: Group
                metadata: {name: d-parent}
                """,
            )
        )
        assert resolved_messages(records) == [
            'org.yaml line 6: Group "b": spec.children lists "c", whose parent is "a" at org.yaml line 10 (Group "c")',
            'org.yaml line 6: Group "b": spec.children lists "d", whose parent is "d-parent" at org.yaml line 14 '
            '(Group "d")',
        ]

    def test_a_child_whose_parent_agrees_is_fine(self):
        records = records_from(
            (
                "org.yaml",
                "kind: Group\nmetadata: {name: a}\nspec: {children: [b]}\n---\n"
                "kind: Group\nmetadata: {name: b}\nspec: {parent: a}\n",
            )
        )
        assert resolved_messages(records) == []

    def test_a_team_that_is_its_own_parent_is_a_cycle(self):
        records = records_from(("teams.csv", "slug,name,parent\na,A,a\n"))
        assert resolved_messages(records) == ['teams.csv line 2: Team "a": parent "a" makes a cycle: a → a']

    def test_a_cycle_is_reported_once_and_blames_a_stated_parent(self):
        records = records_from(("teams.csv", "slug,name,parent\nc,C,a\nb,B,c\n"))
        existing = ExistingCatalog(team_parents={"a": "b", "b": None})
        assert resolved_messages(records, existing) == [
            'teams.csv line 2: Team "c": parent "a" makes a cycle: c → a → b → c'
        ]

    def test_moving_a_team_out_of_a_database_cycle_path_is_fine(self):
        # The database says b is under a; the file moves a under b and b to the root.
        records = records_from(("teams.csv", "slug,name,parent\na,A,b\nb,B,\n"))
        assert resolved_messages(records, ExistingCatalog(team_parents={"a": None, "b": "a"})) == []

    def test_two_people_with_one_email_is_an_error(self):
        records = records_from(("people.csv", "handle,name,email\nann,Ann,a@x.io\nbo,Bo,A@X.io\n"))
        assert resolved_messages(records) == [
            'people.csv line 3: Person "bo": email "a@x.io" is already used by Person "ann" at people.csv line 2 '
            '(Person "ann")'
        ]

    def test_an_email_held_in_the_database_by_someone_else_is_an_error(self):
        records = records_from(("people.csv", "handle,name,email\nann,Ann,a@x.io\n"))
        existing = ExistingCatalog(person_emails={"ann-old": "A@x.io"})
        assert resolved_messages(records, existing) == [
            'people.csv line 2: Person "ann": email "a@x.io" is already used by Person "ann-old" in the database'
        ]

    def test_emails_may_move_between_people_in_the_same_import(self):
        records = records_from(("people.csv", "handle,name,email\nann,Ann,b@x.io\nbo,Bo,a@x.io\n"))
        existing = ExistingCatalog(person_emails={"ann": "a@x.io", "bo": "b@x.io"})
        assert resolved_messages(records, existing) == []

    def test_parse_errors_come_first_by_file_order_then_line(self):
        records = records_from(
            ("z.csv", "slug,name,owner\ns,S,nowhere\nt,,x\n"),
            ("a.csv", "handle,name,email\nann,Ann,nope\n"),
        )
        assert [(error.file, error.line) for error in resolve(records, ExistingCatalog()).errors] == [
            ("z.csv", 2),
            ("z.csv", 3),
            ("a.csv", 2),
        ]

    @given(
        database=st.lists(st.integers(min_value=-1, max_value=5), min_size=6, max_size=6),
        stated=st.dictionaries(st.integers(min_value=0, max_value=5), st.integers(min_value=-1, max_value=5)),
    )
    def test_it_reports_a_cycle_exactly_when_the_resulting_tree_has_one(self, database, stated):
        slugs = [f"t{i}" for i in range(6)]
        # The database holds a tree: each team's parent has a smaller number.
        existing = {
            slug: (slugs[p] if 0 <= p < i else None) for i, (slug, p) in enumerate(zip(slugs, database, strict=True))
        }
        text = "".join(f"{slugs[child]},T,{slugs[parent] if parent >= 0 else ''}\n" for child, parent in stated.items())
        records = parse_csv(f"slug,name,parent\n{text}", "teams.csv")

        errors = [str(e) for e in resolve(records, ExistingCatalog(team_parents=existing)).errors]

        parents = {**existing, **{slugs[c]: (slugs[p] if p >= 0 else None) for c, p in stated.items()}}

        def in_cycle(start: str) -> bool:
            node, steps = parents.get(start), 0
            while node is not None and steps <= len(slugs):
                if node == start:
                    return True
                node, steps = parents.get(node), steps + 1
            return False

        assert bool(errors) == any(in_cycle(slug) for slug in slugs)
        assert all("makes a cycle" in error for error in errors)


class TestSummary:
    def test_it_reads_as_one_line(self):
        summary = ImportSummary(
            teams=Counts(3, 1, 4), people=Counts(0, 0, 2), skipped=Counter({"Location": 1, "API": 1})
        )
        assert str(summary) == (
            "teams: 3 created, 1 updated, 4 unchanged; people: 0 created, 0 updated, 2 unchanged; "
            "services: 0 created, 0 updated, 0 unchanged; memberships: 0 created, 0 updated, 0 unchanged; "
            "skipped entities: 2 (API: 1, Location: 1)"
        )
        assert summary.changed

    def test_nothing_created_or_updated_is_no_change(self):
        assert not ImportSummary(teams=Counts(unchanged=5)).changed
        assert str(ImportSummary()).endswith("; skipped entities: 0")


@pytest.mark.parametrize("folder", ["acme", "acme-csv"])
def test_the_example_organisation_is_valid_in_both_formats(folder):
    files = sorted((Path(__file__).parent / "data" / "catalog" / folder).iterdir())
    records = CatalogRecords.combine(read_catalog_file(path) for path in files)

    resolved = resolve(records, ExistingCatalog())

    assert resolved.errors == []
    assert (len(resolved.teams), len(resolved.people), len(resolved.services), len(resolved.memberships)) == (
        6,
        5,
        3,
        5,
    )
