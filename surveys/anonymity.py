"""The anonymity rules 2-5 of docs/surveys.md#anonymity, as pure functions over a team tree.

The team tree is an ``e360.tree.TeamTree`` (the project's one tree, pure too), passed in: the caller loads or thaws
it, and a test builds one from parents alone (``TeamTree.from_parents``). The organisation, above every root, is the
label ``ORG`` (None). A team's group is its whole subtree; the organisation's group is everyone. The rules are
stricter than the tree about its shape: a team, or a parent, missing from the tree, or a cycle, raises rather than
making a root, since a group must be exactly known before anything is decided on it.

Storage (rule 2): ``storage_labels`` picks, for every team with invitees, the label its responses are stored under,
so that every label's group has at least k invitees.

Output (rules 3 and 4): ``shown_groups`` decides which of the figures a page wants are shown. A figure with fewer
than k responses is never shown (rule 3). Against differencing (rule 4), for every shown group X it takes the
maximal shown groups strictly inside X and requires the remainder — n(X) minus their sum — to be 0 or ≥ k, hiding
the smallest of them (``Status.SUPPRESSED``) until that holds everywhere. Why that is enough: team groups are nested or
disjoint, so anything a viewer can compute by subtracting shown figures is n(X) - Σ n(S) for a shown X and a set S
of disjoint shown groups inside it. That equals X's remainder plus, for each maximal shown group M inside X and not
in S, n(M) - Σ of the members of S inside M. By induction each of these terms is 0 or ≥ k (n(M) itself is ≥ k when
nothing inside M is subtracted), and a sum of terms that are each 0 or ≥ k is 0 or ≥ k: no group of 1 … k-1 can
be isolated. The guarantee covers the figures decided together, so compute the cells once per campaign over every
group any output may show (all teams and ORG) and let each page show any subset of the shown ones: a subset of
safe figures is still safe, while deciding page by page would let two pages be subtracted from each other.

Across waves (rule 4): ``wave_change`` decides whether a group's change since the previous wave may be shown.

Free text (rule 5): ``text_visible`` and ``shuffled_texts``.

No link in storage (rule 1): ``pool_selection`` picks which pooled answers become responses in a move.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random
    from collections.abc import Hashable, Iterable, Mapping, Sequence
    from collections.abc import Set as AbstractSet

    from e360.tree import TeamTree

ORG = None
MIN_K = 3
DEFAULT_K = 5
DEFAULT_TEXT_THRESHOLD = 10

type Label = int | None


class Status(StrEnum):
    """What a cell shows: its figure, or why not. A member equals its value, the word stored and the API's."""

    SHOWN = "shown"
    TOO_FEW = "too_few"  # 1 … k-1 responses (rule 3)
    SUPPRESSED = "suppressed"  # hidden to protect a small group elsewhere (rule 4)
    NO_DATA = "no_data"  # no responses at all


def check_k(k: int) -> None:
    """Refuse an anonymity threshold below 3: with k = 2, one respondent can subtract themselves from a pair."""
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}")


def _chain(team: int, tree: TeamTree) -> tuple[int, ...]:
    """The team, then its ancestors up to its root (``TeamTree.chain``); raises on a team or a parent not in the tree
    (where the tree would start a root) and on a cycle (where the tree's chain stops)."""
    chain = tree.chain(team)
    if not chain:
        raise ValueError(f"team {team} is not in the team tree")
    top = tree.parents[chain[-1]]
    if top is not None and top not in tree:
        raise ValueError(f"team {top} is not in the team tree")
    if top is not None:
        raise ValueError(f"the team tree has a cycle through team {top}")
    return chain


def storage_labels(invited: Mapping[int, int], tree: TeamTree, k: int) -> dict[int, Label]:
    """The label each team's responses are stored under: the team, else an ancestor, else ORG.

    Every label's group — the invitees of all teams mapped to that label — has at least k invitees, so that no stored
    response narrows its author down to fewer than k people. Bottom-up, each team collects its own invitees plus
    those of descendants that could not stand alone; with at least k it becomes their label, otherwise it passes them
    up. Invitees left over above the roots go to ORG; if they are fewer than k, the smallest group formed so far is
    relabelled to ORG with them (every formed group has ≥ k, so one is enough).

    ``invited`` counts invitees by their team at opening; absent teams have none. A campaign with fewer than k
    invitees in all cannot be stored safely at all: it raises, and the caller validates audiences before opening.
    """
    check_k(k)
    if any(count < 0 for count in invited.values()):
        raise ValueError("invitee counts cannot be negative")
    for team in invited:
        _chain(team, tree)
    total = sum(invited.values())
    if total < k:
        raise ValueError(f"{total} invitees in all: fewer than k = {k}, the campaign cannot keep anyone anonymous")

    def size(teams: list[int]) -> int:
        return sum(invited.get(t, 0) for t in teams)

    depth = {team: len(_chain(team, tree)) for team in tree}
    waiting: dict[Label, list[int]] = defaultdict(list)  # teams still without a label, by the node they reached
    labels: dict[int, Label] = {}
    for team in sorted(tree, key=lambda t: (-depth[t], t)):  # every child before its parent
        pending = waiting.pop(team, [])
        if invited.get(team, 0) > 0:
            pending.append(team)
        if size(pending) >= k:
            labels.update(dict.fromkeys(pending, team))
        else:
            waiting[tree.parents[team]].extend(pending)
    leftover = waiting.pop(ORG, [])
    if 0 < size(leftover) < k:
        groups: dict[Label, list[int]] = defaultdict(list)
        for team, label in labels.items():
            groups[label].append(team)
        smallest = min(groups, key=lambda label: (size(groups[label]), label))
        leftover += groups[smallest]
    labels.update(dict.fromkeys(leftover, ORG))
    return labels


@dataclass(frozen=True)
class Cell:
    """One group's figure on a page. ``n`` is the true response count, for deciding only: render it (and any score
    computed over the group) only when ``shown``; otherwise ``status`` says why not (``Status``).
    """

    n: int
    status: Status

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN


def _figures(responses: Mapping[Label, int], tree: TeamTree) -> dict[Label, int]:
    """Responses per group: each label's count adds to the label and all its ancestors, and to ORG."""
    figures: dict[Label, int] = defaultdict(int)
    for label, count in responses.items():
        if count < 0:
            raise ValueError("response counts cannot be negative")
        for team in () if label is ORG else _chain(label, tree):
            figures[team] += count
        figures[ORG] += count
    return figures


def shown_groups(
    responses: Mapping[Label, int], tree: TeamTree, k: int, candidates: Iterable[Label]
) -> dict[Label, Cell]:
    """Which of the ``candidates`` (teams and/or ORG) may be shown, under rules 3 and 4 (see the module docstring).

    ``responses`` counts responses per storage label. Suppression runs to a fixpoint: hiding a group exposes the
    groups inside it to the check of its shown ancestor, which may then need another group hidden.
    """
    check_k(k)
    figures = _figures(responses, tree)
    chains = {c: () if c is ORG else _chain(c, tree) for c in candidates}
    cells: dict[Label, Cell] = {}
    for c in chains:
        n = figures.get(c, 0)
        cells[c] = Cell(n, Status.NO_DATA if n == 0 else Status.TOO_FEW if n < k else Status.SHOWN)
    # Deepest first, so that a group's own remainder is fixed before its ancestors look inside it.
    order = sorted(chains, key=lambda c: -len(chains[c]))
    while True:
        shown = {c for c in chains if cells[c].shown}
        inside: dict[Label, list[Label]] = defaultdict(list)  # shown group → maximal shown groups strictly inside it
        for c in shown - {ORG}:
            enclosing = next((a for a in chains[c][1:] if a in shown), ORG)
            if enclosing in shown:
                inside[enclosing].append(c)
        # A list, not next(..., None): the organisation's own label is None.
        unsafe = [x for x in order if x in inside and 0 < _remainder(x, inside[x], cells) < k]
        if not unsafe:
            return cells
        smallest = min(inside[unsafe[0]], key=lambda c: (cells[c].n, c))
        cells[smallest] = Cell(cells[smallest].n, Status.SUPPRESSED)


def _remainder(group: Label, inside: Iterable[Label], cells: Mapping[Label, Cell]) -> int:
    """What subtracting the figures of ``inside`` from ``group``'s leaves."""
    return cells[group].n - sum(cells[c].n for c in inside)


def wave_change(
    current: Cell, previous: Cell, answered_now: AbstractSet[Hashable], answered_before: AbstractSet[Hashable], k: int
) -> Status:
    """Whether a group's change between two consecutive waves may be shown (``Status.SHOWN``), and why not otherwise.

    A change is current - previous, so showing it beside one shown figure reveals the other: it needs the group
    shown in both waves (else the status of the wave that hides it). Both being shown is not enough (rule 4 across
    waves): who answered is known per wave (people know their colleagues answered), and if the people who answered
    now and those who answered before differ by 1 ... k-1 people, the change is mostly theirs, like a parent minus
    its shown children. So the change is hidden (``Status.SUPPRESSED``) when 0 < |answered now, not before| < k or
    0 < |answered before, not now| < k. ``answered_now`` and ``answered_before`` are the people of the group (its
    labels' invitees, on each wave's own tree) who answered in each wave; only their sizes and overlap matter.
    """
    check_k(k)
    if not current.shown:
        return current.status
    if not previous.shown:
        return previous.status
    joined, left = len(answered_now - answered_before), len(answered_before - answered_now)
    if 0 < joined < k or 0 < left < k:
        return Status.SUPPRESSED
    return Status.SHOWN


def text_visible(n_responses: int, threshold: int) -> bool:
    """Whether a group's free-text answers may be shown: only with at least ``threshold`` responses (rule 5).

    The threshold is the campaign's text threshold (default 10); that it is not below the campaign's k is the
    caller's concern (validated on the campaign), but one below the absolute minimum k is refused here.
    """
    if threshold < MIN_K:
        raise ValueError(f"the text threshold must be at least {MIN_K}")
    return n_responses >= threshold


def shuffled_texts(texts: Iterable[str], seed: bytes | int) -> list[str]:
    """The non-blank texts in an order unrelated to submission order, stable for a given seed.

    Submission order could be matched against who answered when (the invitation records the day), so texts are
    sorted by a keyed hash (HMAC-SHA256 with the seed) of their content: the same page always lists them the same
    way, and the order says nothing about when each arrived. Identical texts are indistinguishable, so how they
    tie does not matter.
    """
    key = seed if isinstance(seed, bytes) else str(seed).encode()
    kept = [text for text in texts if text.strip()]
    return sorted(kept, key=lambda text: hmac.digest(key, text.encode(), "sha256"))


def pool_selection[T](pooled: Mapping[Label, Sequence[T]], k: int, rng: random.Random, *, closing: bool) -> list[T]:
    """The pooled entries a move turns into responses, in a random order (rule 1; ``services.pool_move``).

    Submitting claims the invitation and pools the answers in one transaction; a later move, touching no invitation,
    turns pooled entries into responses. Transaction ids grow, so anyone reading the database knows which
    invitations of a label were claimed before each move: the entries of a move can only come from them. The rule
    keeps that set at least k for every moved entry, per storage label (a label's invitations are the candidates):

    - while the campaign is open, a label is moved only when it holds at least 2k entries, and then all but k of
      them, chosen at random: the k left behind are a random part of the pool, so each later move of the label
      again draws from at least 2k entries that may be any not moved yet (an entry is never more than 1/(2k) likely
      to be a given invitation, and one left behind stays no likelier than the others);
    - at closing, everything left moves: at least k entries when the label was ever moved before, else every
      response of the label (its invitees know only that they answered, as the invitation list already says).

    Moving every entry of a label at each move instead would let the last move, at closing, hold 1 … k-1 entries:
    the invitations claimed since the previous move, named by their transaction ids. ``rng`` chooses and shuffles:
    ``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in tests.
    """
    check_k(k)
    moved: list[T] = []
    for entries in pooled.values():
        if closing:
            moved.extend(entries)
        elif len(entries) >= 2 * k:
            moved.extend(rng.sample(list(entries), len(entries) - k))
    rng.shuffle(moved)
    return moved
