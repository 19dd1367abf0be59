"""The team tree: every team's parent, name and slug, and everything read from them.

One home for walking the catalog's tree: chains of ancestors, subtrees, depths, leaf teams, the rendering order of an
indented list and the path names of a select's options. Delivery scopes (``metrics.scope``), team rollups, survey
audiences, storage labels and results (``surveys``), insights and the catalog's own pages read the tree through it.

The core is pure: a ``TeamTree`` is built from ``(id, parent_id, name, slug)`` rows and imports nothing from Django.
``load`` reads the rows in one query (the tree is small: thousands of teams at most, so walking it in memory beats
recursive SQL in clarity and works the same on SQLite and PostgreSQL), and ``for_user`` keeps what it loaded for the
rest of a request.

A team whose parent is not in the tree (a tree of the teams one viewer sees, or a frozen one) is a root of it. The
organisation, above every root, is ``None`` wherever a method accepts it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping

FIELDS = ("id", "parent_id", "name", "slug")  # a row of the tree, in this order
PATH_SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark, spaced

type Row = tuple[int, int | None, str, str]


class TeamLike(Protocol):
    pk: Any
    parent_id: int | None
    name: str
    slug: str


@dataclass(frozen=True)
class TeamTree:
    """Every team's parent (None for a root), name and slug."""

    parents: Mapping[int, int | None]
    names: Mapping[int, str]
    slugs: Mapping[int, str]

    # --- Building ------------------------------------------------------------------------------------------------

    @classmethod
    def from_rows(cls, rows: Iterable[Row]) -> TeamTree:
        """The tree of ``(id, parent_id, name, slug)`` rows (``FIELDS``)."""
        parents: dict[int, int | None] = {}
        names: dict[int, str] = {}
        slugs: dict[int, str] = {}
        for team, parent, name, slug in rows:
            parents[team], names[team], slugs[team] = parent, name, slug
        return cls(parents, names, slugs)

    @classmethod
    def from_parents(cls, parents: Mapping[int, int | None]) -> TeamTree:
        """The tree of a shape alone, each team named by its id: for rules that read only the shape (the anonymity
        rules, and their tests), and a tree with a made-up team added."""
        return cls.from_rows((team, parent, str(team), str(team)) for team, parent in parents.items())

    @classmethod
    def from_teams(cls, teams: Iterable[TeamLike]) -> TeamTree:
        """The tree of teams already loaded (no query): the teams a page lists, say, with their parents left out
        when they are not among them."""
        return cls.from_rows((team.pk, team.parent_id, team.name, team.slug) for team in teams)

    @classmethod
    def load(cls, teams: Any = None) -> TeamTree:
        """The tree of ``teams`` in one query: a queryset (the teams a viewer sees, say) or a manager (a
        migration's historical model's); every team by default."""
        if teams is None:
            from e360.models import Team  # here: the core stays free of Django

            teams = Team.objects
        return cls.from_rows(teams.order_by().values_list(*FIELDS))

    def only(self, teams: Iterable[int]) -> TeamTree:
        """The tree of ``teams`` alone, as ``load`` reads it for them: a team whose parent is not among them keeps its
        parent's id, and is at the top of their tree."""
        return TeamTree.from_rows(
            (team, self.parents[team], self.names[team], self.slugs[team]) for team in teams if team in self.parents
        )

    @classmethod
    def for_user(cls, user: Any) -> TeamTree:
        """The whole tree (not only what ``user`` sees), loaded once per request: kept on the request's user object,
        which every view and selector is given and which lives as long as the request (``e360.access`` keeps the
        teams a user sees the same way). For reading only: a write reads a fresh tree with ``load``."""
        tree = getattr(user, "_e360_team_tree", None)
        if tree is None:
            tree = cls.load()
            user._e360_team_tree = tree
        return tree

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TeamTree:
        """A tree as ``as_json`` wrote it (JSON keys are texts)."""
        return cls(
            parents={int(team): parent for team, parent in data["parents"].items()},
            names={int(team): name for team, name in data["names"].items()},
            slugs={int(team): slug for team, slug in data["slugs"].items()},
        )

    def as_json(self, teams: Iterable[int | None]) -> dict[str, dict[str, Any]]:
        """``teams`` and their ancestors, as JSON: what a closed campaign keeps of the tree (``surveys.published``)."""
        kept = sorted(self.closure(teams))
        return {
            "parents": {str(t): self.parents[t] for t in kept},
            "names": {str(t): self.names[t] for t in kept},
            "slugs": {str(t): self.slugs[t] for t in kept},
        }

    @cached_property
    def shape(self) -> str:
        """Every team's parent, as text: what was decided on one shape of the tree is stale on another."""
        return ",".join(f"{team}:{parent}" for team, parent in sorted(self.parents.items()))

    # --- Reading -------------------------------------------------------------------------------------------------

    def __contains__(self, team: object) -> bool:
        return team in self.parents

    def __iter__(self) -> Iterator[int]:
        return iter(self.parents)

    def __len__(self) -> int:
        return len(self.parents)

    def chain(self, team: int | None) -> tuple[int, ...]:
        """The team, then its ancestors up to its root (computed once per team); empty for the organisation (None)
        and for a team not in the tree. A cycle, which the catalog refuses, ends the chain where it closes."""
        chains = self._chains
        if team not in chains:
            chain: list[int] = []
            node: int | None = team
            while node is not None and node in self.parents and node not in chain:
                chain.append(node)
                node = self.parents[node]
            chains[team] = tuple(chain)
        return chains[team]

    def ancestors(self, team: int) -> tuple[int, ...]:
        """The team's ancestors, from its root down to its parent."""
        return self.chain(team)[:0:-1]

    def depth(self, team: int | None) -> int:
        """Levels below the organisation: 0 for it (None), 1 for a root team."""
        return 0 if team is None else len(self.chain(team))

    def children(self, team: int | None) -> tuple[int, ...]:
        """The teams right below ``team`` (None: the roots), by name."""
        return self._children.get(team, ())

    @property
    def roots(self) -> tuple[int, ...]:
        return self.children(None)

    def is_leaf(self, team: int) -> bool:
        """Whether the team has no sub-team."""
        return not self.children(team)

    @cached_property
    def leaves(self) -> frozenset[int]:
        """The teams without sub-teams."""
        return frozenset(team for team in self.parents if self.is_leaf(team))

    def subtree(self, roots: Iterable[int]) -> set[int]:
        """The given teams and every team below them."""
        found: set[int] = set()
        stack = list(roots)
        while stack:
            team = stack.pop()
            if team not in found:
                found.add(team)
                stack.extend(self.children(team))
        return found

    def closure(self, teams: Iterable[int | None]) -> set[int]:
        """The teams and all their ancestors (the organisation, None, left out)."""
        return {ancestor for team in teams if team is not None for ancestor in self.chain(team)}

    # --- Rendering -----------------------------------------------------------------------------------------------

    def indented(self, teams: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """The one rendering order of an indented tree: ``teams`` (every team when None) depth first, siblings by
        name, each with its indentation, the number of listed teams above it (0 at the top). A listed team whose
        parent is not listed sits under its nearest listed ancestor."""
        listed = None if teams is None else set(teams)
        if listed is not None and not listed:
            return []
        rows: list[tuple[int, int]] = []
        stack = [(root, 0) for root in reversed(self.roots)]
        while stack:
            team, indent = stack.pop()
            shown = listed is None or team in listed
            if shown:
                rows.append((team, indent))
            stack.extend((child, indent + shown) for child in reversed(self.children(team)))
        return rows

    def path(self, team: int, within: Collection[int] | None = None) -> tuple[str, ...]:
        """The names of the team's ancestors from the top (only those ``within``, when given), then its own."""
        return tuple(self.names[t] for t in self.chain(team)[::-1] if t == team or within is None or t in within)

    def label(self, team: int, within: Collection[int] | None = None) -> str:
        """The team named by its path, as team pickers list it: "Commerce, then Checkout" reads
        ``Commerce \u203a Checkout``. A select's options cannot be indented, and dashes before a name were read out as
        dashes by screen readers; a path also tells apart two teams of the same name."""
        return PATH_SEPARATOR.join(self.path(team, within))

    # --- Caches --------------------------------------------------------------------------------------------------

    @cached_property
    def _chains(self) -> dict[int | None, tuple[int, ...]]:
        return {}

    @cached_property
    def _children(self) -> dict[int | None, tuple[int, ...]]:
        below: dict[int | None, list[int]] = defaultdict(list)
        for team, parent in self.parents.items():
            below[parent if parent in self.parents else None].append(team)
        return {parent: tuple(sorted(teams, key=self._by_name)) for parent, teams in below.items()}

    def _by_name(self, team: int) -> tuple[str, int]:
        return (self.names[team].casefold(), team)
