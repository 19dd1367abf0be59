"""The team tree as survey results see it: every team's parent, loaded once per request."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from e360.models import Team
from surveys.anonymity import ORG, Label

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class TeamTree:
    """Every team's parent, name and slug, from one query."""

    parents: dict[int, int | None]
    names: dict[int, str]
    slugs: dict[int, str]

    @classmethod
    def load(cls) -> TeamTree:
        rows = list(Team.objects.values_list("id", "parent_id", "name", "slug"))
        return cls(
            parents={team: parent for team, parent, _, _ in rows},
            names={team: name for team, _, name, _ in rows},
            slugs={team: slug for team, _, _, slug in rows},
        )

    @classmethod
    def from_json(cls, data: dict) -> TeamTree:
        """A tree as ``as_json`` wrote it (JSON keys are texts)."""
        return cls(
            parents={int(team): parent for team, parent in data["parents"].items()},
            names={int(team): name for team, name in data["names"].items()},
            slugs={int(team): slug for team, slug in data["slugs"].items()},
        )

    def as_json(self, teams: Iterable[int]) -> dict:
        """``teams`` and their ancestors, as JSON: what a closed campaign keeps of the tree (``surveys.published``)."""
        kept = sorted(self.closure(teams))
        return {
            "parents": {str(t): self.parents[t] for t in kept},
            "names": {str(t): self.names[t] for t in kept},
            "slugs": {str(t): self.slugs[t] for t in kept},
        }

    @cached_property
    def shape(self) -> str:
        """Every team's parent, as text: figures decided on one shape are stale on another."""
        return ",".join(f"{team}:{parent}" for team, parent in sorted(self.parents.items()))

    def depth(self, team: Label) -> int:
        """Levels below the organisation: 0 for it, 1 for a root team."""
        return 0 if team is ORG else len(self.chain(team))

    def chain(self, team: int) -> list[int]:
        """The team, then its ancestors up to its root (computed once per team)."""
        chains = self._chains
        if team not in chains:
            chain: list[int] = []
            node: int | None = team
            while node is not None and node not in chain and node in self.parents:
                chain.append(node)
                node = self.parents[node]
            chains[team] = chain
        return chains[team]

    @cached_property
    def _chains(self) -> dict[int, list[int]]:
        return {}

    @cached_property
    def _children(self) -> dict[int | None, list[int]]:
        children: dict[int | None, list[int]] = defaultdict(list)
        for team, parent in self.parents.items():
            children[parent].append(team)
        return children

    def subtree(self, roots: Iterable[int]) -> set[int]:
        found: set[int] = set()
        stack = list(roots)
        while stack:
            team = stack.pop()
            if team not in found:
                found.add(team)
                stack.extend(self._children.get(team, ()))
        return found

    def closure(self, teams: Iterable[Label]) -> set[int]:
        """The teams and all their ancestors (ORG left out)."""
        return {ancestor for team in teams if team is not ORG for ancestor in self.chain(team)}
