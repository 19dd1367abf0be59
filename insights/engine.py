"""The bottleneck ranking: where developer sentiment and delivery metrics meet (docs/product.md#insights).

Plain values in, plain frozen dataclasses out; no Django, no I/O. The caller reads survey results (already passed
through the anonymity rules) and metric rollups, formats each metric value for display, and hands them over.

Definitions
===========

Mapping (``DIMENSIONS``, ``MAPPING``)
    Each survey dimension maps to the delivery metrics that should move with it (docs/surveys.md#dimensions). Focus
    maps to none: it can only be a perception. Satisfaction maps to the union of all the others' metrics, weakly: its
    data side counts at ``SATISFACTION_DATA_WEIGHT`` (½) in the score, because overall satisfaction moves with
    everything a little and with nothing in particular.

Perception signal
    The team's % favourable on the dimension is at least ``PERCEPTION_GAP`` (10) points below the org's, or below
    ``FAVOURABLE_FLOOR`` (50%: most people not favourable). A hidden score (fewer than k responses, or suppressed by
    the anonymity rules) or a dimension without results is never a perception signal and contributes nothing.

Data signal
    A mapped metric *counts* when it has a value, a sample of at least ``MIN_SAMPLE`` (10 deployments, PRs, runs…)
    and at least ``MIN_PEERS`` (4) other teams to compare with. Its *badness percentile* is where the team stands
    among those peers, 0 = better than all of them, 100 = worse than all of them, a tied peer counting half
    (``e360.stats.percentile_rank``, reversed for a higher-is-better metric). The data signal is on when the median
    badness percentile of the counted metrics (the middle one, or the mean of the middle two) is at least
    ``DATA_PERCENTILE`` (75): most mapped metrics lean to the bad side, not one noisy figure.

Label
    *corroborated* (both signals), *perception only*, *data only* or *no signal*. A divergence is a finding too:
    people feeling a pain the metrics do not show (perception only) or metrics showing a problem people do not feel
    or do not attribute to it (data only).

Score
    ``perception points + data points``, both in points on a 0–100 scale so that they add up:
    perception points = how far the % favourable is below the org's or below 50%, whichever is further (0 when
    neither, or when hidden); data points = data weight × how far the median badness percentile is above the median
    team (percentile − 50, 0 when at or below). A team's dimensions are ranked by score, highest first, ties in
    the order of docs/surveys.md#dimensions. The score orders; the label classifies; the two use the same inputs
    but a dimension just under both thresholds can outscore one just over one of them.

Org ranking (``org_ranking``)
    Per dimension, the team scores averaged over people (Σ people × score / Σ people over all teams given), so that a
    bottleneck for many people outranks an equally bad one for few; and how many teams and people have it as a
    signal, corroborated, perception only and data only. Pass teams that do not overlap (leaf teams, or one level of
    the tree), or people in sub-teams count twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from e360.stats import Method, median, percentile_rank, whole
from insights.stats import MINUS

if TYPE_CHECKING:
    from collections.abc import Sequence

PERCEPTION_GAP = 10.0
FAVOURABLE_FLOOR = 50.0
DATA_PERCENTILE = 75.0
MIN_SAMPLE = 10
MIN_PEERS = 4
SATISFACTION_DATA_WEIGHT = 0.5
# Satisfaction maps to 15 metrics: name the worst few in its explanation and leave the rest to the evidence.
MAX_METRICS_EXPLAINED = 4


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    lower_is_better: bool


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    metrics: tuple[MetricSpec, ...]
    data_weight: float = 1.0


METRICS: dict[str, MetricSpec] = {
    spec.key: spec
    for spec in (
        MetricSpec("pipeline_failure_rate", "pipeline failure rate", lower_is_better=True),
        MetricSpec("flaky_rate", "flaky rate", lower_is_better=True),
        MetricSpec("pipeline_p90_duration", "pipeline p90 duration", lower_is_better=True),
        MetricSpec("deployment_frequency", "deployment frequency", lower_is_better=False),
        MetricSpec("pickup_time", "pickup time", lower_is_better=True),
        MetricSpec("review_time", "review time", lower_is_better=True),
        MetricSpec("prs_waiting_24h", "PRs waiting > 24 h", lower_is_better=True),
        MetricSpec("lead_time", "lead time", lower_is_better=True),
        MetricSpec("deploy_time", "deploy time", lower_is_better=True),
        MetricSpec("change_failure_rate", "change failure rate", lower_is_better=True),
        MetricSpec("recovery_time", "failed deployment recovery time", lower_is_better=True),
        MetricSpec("rework_rate", "rework rate", lower_is_better=True),
        MetricSpec("coding_time", "coding time", lower_is_better=True),
        MetricSpec("pr_size", "PR size", lower_is_better=True),
        MetricSpec("pipeline_p50_duration", "pipeline p50 duration", lower_is_better=True),
    )
}


def _specs(*keys: str) -> tuple[MetricSpec, ...]:
    return tuple(METRICS[key] for key in keys)


_MAPPED = (
    Dimension(
        "ci_cd",
        "CI/CD",
        _specs("pipeline_failure_rate", "flaky_rate", "pipeline_p90_duration", "deployment_frequency"),
    ),
    Dimension("code_review", "Code review", _specs("pickup_time", "review_time", "prs_waiting_24h", "lead_time")),
    Dimension("release", "Release", _specs("deploy_time", "deployment_frequency", "lead_time")),
    Dimension("stability", "Stability", _specs("change_failure_rate", "recovery_time", "rework_rate")),
    Dimension("cognitive_load", "Cognitive load", _specs("coding_time", "pr_size")),
    Dimension("focus", "Focus", ()),
    Dimension("tooling", "Tooling", _specs("pipeline_p50_duration")),
    Dimension("clarity", "Clarity", _specs("rework_rate")),
)
DIMENSIONS: tuple[Dimension, ...] = (
    *_MAPPED,
    Dimension(
        "satisfaction",
        "Satisfaction",
        # The union of the others' metrics, each once, in the table's order.
        tuple(dict.fromkeys(spec for dimension in _MAPPED for spec in dimension.metrics)),
        data_weight=SATISFACTION_DATA_WEIGHT,
    ),
)
DIMENSIONS_BY_KEY: dict[str, Dimension] = {dimension.key: dimension for dimension in DIMENSIONS}
MAPPING: dict[str, tuple[MetricSpec, ...]] = {dimension.key: dimension.metrics for dimension in DIMENSIONS}


class Label(StrEnum):
    CORROBORATED = "corroborated"
    PERCEPTION_ONLY = "perception only"
    DATA_ONLY = "data only"
    NO_SIGNAL = "no signal"


def _check_percent(value: float | None, what: str) -> None:
    if value is not None and not 0 <= value <= 100:
        raise ValueError(f"{what} must be a percentage in 0..100, got {value!r}")


@dataclass(frozen=True)
class Sentiment:
    """One dimension's survey result for the team, as the anonymity rules let it be shown.

    A hidden result (``shown=False``) carries no number at all — no %, no previous %, no response count — only
    ``hidden_text``, the caller's reason ("fewer than 3 responses"), so nothing downstream can leak one.
    ``previous_percent`` is None when the previous wave is not comparable; ``org_percent`` None when the org's
    figure is not shown (pass None too when ranking the org itself).
    """

    dimension: str
    shown: bool
    percent_favourable: float | None
    previous_percent: float | None
    org_percent: float | None
    responses: int
    hidden_text: str = ""

    def __post_init__(self) -> None:
        if self.dimension not in DIMENSIONS_BY_KEY:
            raise ValueError(f"unknown dimension {self.dimension!r}")
        for value, what in (
            (self.percent_favourable, "percent_favourable"),
            (self.previous_percent, "previous_percent"),
            (self.org_percent, "org_percent"),
        ):
            _check_percent(value, what)
        if self.shown:
            if self.percent_favourable is None:
                raise ValueError("a shown sentiment needs its percent_favourable")
        else:
            if self.percent_favourable is not None or self.previous_percent is not None or self.responses != 0:
                raise ValueError("a hidden sentiment carries no numbers: no percentages, responses = 0")
            if not self.hidden_text:
                raise ValueError("a hidden sentiment needs hidden_text saying why it is hidden")


@dataclass(frozen=True)
class MetricValue:
    """One mapped metric for the team: its value (None = no data), the caller's display text ("24%", "3.2 h"),
    the sample it rests on (deployments, PRs, runs), and the other teams' values to rank it among."""

    key: str
    value: float | None
    display: str
    sample: int
    peers: Sequence[float] = ()

    def __post_init__(self) -> None:
        if self.key not in METRICS:
            raise ValueError(f"unknown metric {self.key!r}")
        object.__setattr__(self, "peers", tuple(self.peers))


@dataclass(frozen=True)
class TeamInput:
    """What the engine needs about one team (or the org): its sentiment per dimension and its metric values.

    A dimension without a Sentiment had no survey results; a metric without a MetricValue had no data.
    """

    sentiments: Sequence[Sentiment] = ()
    metrics: Sequence[MetricValue] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "sentiments", tuple(self.sentiments))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        for what, keys in (
            ("dimension", [s.dimension for s in self.sentiments]),
            ("metric", [m.key for m in self.metrics]),
        ):
            if len(set(keys)) != len(keys):
                raise ValueError(f"each {what} at most once, got {sorted(keys)}")


@dataclass(frozen=True)
class MetricEvidence:
    """A mapped metric as evidence. ``percentile`` is None unless the metric counts; ``note`` says why it does not."""

    key: str
    label: str
    lower_is_better: bool
    value: float | None
    display: str
    sample: int
    peers: int
    percentile: float | None
    note: str = ""

    @property
    def counts(self) -> bool:
        return self.percentile is not None

    @property
    def standing(self) -> str:
        """Where the team stands in plain words: "worst 10% of teams", "best of 12 teams"."""
        if self.percentile is None:
            return self.note
        teams = self.peers + 1
        # Percentiles are ratios of small integers: round away float dust before ceil() (89.99999 is 90).
        worse_share = round(100 - self.percentile, 6)
        better_share = round(self.percentile, 6)
        if better_share >= 100:
            return f"worst of {teams} teams"
        if better_share <= 0:
            return f"best of {teams} teams"
        if better_share > 50:
            return f"worst {math.ceil(worse_share)}% of teams"
        if better_share < 50:
            return f"best {math.ceil(better_share)}% of teams"
        return f"in the middle of {teams} teams"


@dataclass(frozen=True)
class Item:
    """One dimension in a team's bottleneck ranking, with its evidence and the sentence that explains it."""

    dimension: str
    title: str
    score: float
    label: Label
    perception: bool
    data: bool
    perception_points: float
    data_points: float
    median_percentile: float | None
    sentiment: Sentiment | None
    metrics: tuple[MetricEvidence, ...]
    explanation: str

    @property
    def label_rule(self) -> str:
        """The labelling rule as it applied here, for the card: which signal is on and what each needs, so a
        "perception only" beside a metric in the worst 15% of teams reads as the rule, not as a contradiction."""
        worst = whole(100 - DATA_PERCENTILE)
        gap, floor = whole(PERCEPTION_GAP), whole(FAVOURABLE_FLOOR)
        needs = f"needs % favourable at least {gap} points below the organisation's or under {floor}%"
        if self.sentiment is None or not self.sentiment.shown:
            survey = f"survey signal off: no survey result shown ({needs})"
        else:
            survey = f"survey signal {'on' if self.perception else 'off'} ({needs})"
        counted = [metric for metric in self.metrics if metric.counts]
        if not self.metrics:
            data = "data signal off: no delivery metric maps to this dimension"
        elif self.median_percentile is None or not counted:
            data = "data signal off: no mapped metric has enough data to compare"
        else:
            many = f"its {len(counted)} counted metrics" if len(counted) > 1 else "its 1 counted metric"
            data = (
                f"data signal {'on' if self.data else 'off'} (needs the median standing of {many} in the worst "
                f"{worst}% of teams; it is worse than {whole(self.median_percentile)}% of them, so one bad metric "
                "alone does not make it)"
            )
        return f"Labelled “{self.label.value}”: {survey}; {data}."


def _evidence(spec: MetricSpec, metric: MetricValue | None) -> MetricEvidence:
    if metric is None or metric.value is None:
        display = metric.display if metric is not None else "no data"
        sample = metric.sample if metric is not None else 0
        peers = len(metric.peers) if metric is not None else 0
        return MetricEvidence(spec.key, spec.label, spec.lower_is_better, None, display, sample, peers, None, "no data")
    peers = len(metric.peers)
    note = ""
    if metric.sample < MIN_SAMPLE:
        note = f"too little data (sample {metric.sample}, need {MIN_SAMPLE})"
    elif peers < MIN_PEERS:
        note = f"too few teams to compare ({peers + 1}, need {MIN_PEERS + 1})"
    percentile = None
    if not note:
        # Badness: the peers ranked from best to worst, so a higher-is-better metric's are ranked in reverse.
        percentile = percentile_rank(metric.value, metric.peers, reverse=not spec.lower_is_better)
    return MetricEvidence(
        spec.key, spec.label, spec.lower_is_better, metric.value, metric.display, metric.sample, peers, percentile, note
    )


def _perception_points(sentiment: Sentiment | None) -> tuple[float, bool]:
    if sentiment is None or not sentiment.shown or sentiment.percent_favourable is None:
        return 0.0, False
    percent = sentiment.percent_favourable
    gap = sentiment.org_percent - percent if sentiment.org_percent is not None else 0.0
    signal = gap >= PERCEPTION_GAP or percent < FAVOURABLE_FLOOR
    return max(0.0, gap, FAVOURABLE_FLOOR - percent), signal


def _points(value: float) -> str:
    rounded = whole(value)
    sign = MINUS if rounded < 0 else "+"
    return f"{sign}{abs(rounded)} {'pt' if abs(rounded) == 1 else 'pts'}"


def _sentiment_text(sentiment: Sentiment | None) -> str:
    if sentiment is None:
        return "sentiment: no survey results"
    if not sentiment.shown or sentiment.percent_favourable is None:
        return f"sentiment: {sentiment.hidden_text}"
    percent = sentiment.percent_favourable
    context = []
    if sentiment.org_percent is not None:
        context.append(f"org {whole(sentiment.org_percent)}%")
    if sentiment.previous_percent is not None:
        change = percent - sentiment.previous_percent
        context.append("no change since last wave" if whole(change) == 0 else f"{_points(change)} since last wave")
    text = f"{whole(percent)}% favourable"
    return f"{text} ({', '.join(context)})" if context else text


def _data_text(dimension: Dimension, evidence: Sequence[MetricEvidence]) -> str:
    if not dimension.metrics:
        return "no delivery metric maps to this dimension"
    counted = [e for e in evidence if e.counts]
    if not counted:
        return "delivery metrics: not enough data to compare"
    # Worst first; the sort is stable, so equal percentiles keep the mapping's order.
    counted.sort(key=lambda e: -(e.percentile or 0.0))
    parts = [f"{e.label} {e.display}, {e.standing}" for e in counted[:MAX_METRICS_EXPLAINED]]
    rest = len(counted) - MAX_METRICS_EXPLAINED
    if rest > 0:
        parts.append(f"{rest} other {'metric' if rest == 1 else 'metrics'} in the evidence")
    return "; ".join(parts)


def _item(dimension: Dimension, sentiment: Sentiment | None, metrics: dict[str, MetricValue]) -> Item:
    evidence = tuple(_evidence(spec, metrics.get(spec.key)) for spec in dimension.metrics)
    perception_points, perception = _perception_points(sentiment)
    percentiles = [e.percentile for e in evidence if e.percentile is not None]
    # The textbook median (the mean of the middle two): ``midpoint`` keeps it bit for bit that of ``statistics``.
    median_percentile = median(percentiles, Method.MIDPOINT)
    data = median_percentile is not None and median_percentile >= DATA_PERCENTILE
    data_points = dimension.data_weight * max(0.0, median_percentile - 50) if median_percentile is not None else 0.0
    if perception and data:
        label = Label.CORROBORATED
    elif perception:
        label = Label.PERCEPTION_ONLY
    elif data:
        label = Label.DATA_ONLY
    else:
        label = Label.NO_SIGNAL
    return Item(
        dimension=dimension.key,
        title=dimension.label,
        score=perception_points + data_points,
        label=label,
        perception=perception,
        data=data,
        perception_points=perception_points,
        data_points=data_points,
        median_percentile=median_percentile,
        sentiment=sentiment,
        metrics=evidence,
        explanation=f"{dimension.label}: {_sentiment_text(sentiment)}; {_data_text(dimension, evidence)}",
    )


def bottlenecks(team: TeamInput) -> list[Item]:
    """One item per dimension, highest bottleneck score first (ties in the order of docs/surveys.md#dimensions)."""
    sentiments = {s.dimension: s for s in team.sentiments}
    metrics = {m.key: m for m in team.metrics}
    items = [_item(dimension, sentiments.get(dimension.key), metrics) for dimension in DIMENSIONS]
    return sorted(items, key=lambda item: -item.score)


@dataclass(frozen=True)
class Reach:
    """How many teams, and how many people in them."""

    teams: int = 0
    people: int = 0

    def add(self, people: int) -> Reach:
        return Reach(self.teams + 1, self.people + people)


@dataclass(frozen=True)
class OrgItem:
    """One dimension in the org's ranking: its people-weighted score and whom it affects."""

    dimension: str
    title: str
    score: float
    signal: Reach
    corroborated: Reach
    perception_only: Reach
    data_only: Reach
    team_names: tuple[str, ...]
    explanation: str


def _teams(count: int, people: int) -> str:
    return f"{count} {'team' if count == 1 else 'teams'} ({people} {'person' if people == 1 else 'people'})"


def _org_explanation(title: str, signal: Reach, by_label: dict[Label, Reach]) -> str:
    if signal.teams == 0:
        return f"{title}: not a bottleneck for any team"
    parts = [f"{title}: a bottleneck for {_teams(signal.teams, signal.people)}"]
    parts.extend(f"{label.value} in {by_label[label].teams}" for label in by_label if by_label[label].teams)
    return ", ".join(parts)


def org_ranking(teams: Sequence[tuple[str, int, Sequence[Item]]]) -> list[OrgItem]:
    """Rank the dimensions for the org from each team's (name, people, bottleneck items).

    The score is the team scores averaged over people; ``team_names`` lists the teams where the dimension is a
    signal, highest score first (ties by name). A team without an item for a dimension contributes 0 to it.
    """
    total_people = sum(people for _, people, _ in teams)
    if any(people < 0 for _, people, _ in teams):
        raise ValueError("people must not be negative")
    ranking = []
    for dimension in DIMENSIONS:
        weighted = 0.0
        signal = Reach()
        by_label = {label: Reach() for label in (Label.CORROBORATED, Label.PERCEPTION_ONLY, Label.DATA_ONLY)}
        named: list[tuple[float, str]] = []
        for name, people, items in teams:
            item = next((item for item in items if item.dimension == dimension.key), None)
            if item is None:
                continue
            weighted += people * item.score
            if item.label != Label.NO_SIGNAL:
                signal = signal.add(people)
                by_label[item.label] = by_label[item.label].add(people)
                named.append((-item.score, name))
        ranking.append(
            OrgItem(
                dimension=dimension.key,
                title=dimension.label,
                score=weighted / total_people if total_people else 0.0,
                signal=signal,
                corroborated=by_label[Label.CORROBORATED],
                perception_only=by_label[Label.PERCEPTION_ONLY],
                data_only=by_label[Label.DATA_ONLY],
                team_names=tuple(name for _, name in sorted(named)),
                explanation=_org_explanation(dimension.label, signal, by_label),
            )
        )
    return sorted(ranking, key=lambda item: -item.score)
