"""Rule 1 in storage: nothing in the database ties a response to the invitation marked in the same request.

Submitting claims the invitation and pools the answers (``PooledResponse``) in one transaction; moves, in
transactions that touch no invitation, turn pooled answers into responses in shuffled batches
(``anonymity.pool_selection``), and closing moves the rest before the scores are published. The attacker tests
run on PostgreSQL, where a DBA, a replica or a backup reads ``xmin`` and ``ctid``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from e360.tests.factories import MembershipFactory, TeamFactory
from surveys import anonymity, services, tasks
from surveys.anonymity import Status
from surveys.models import Answer, Campaign, GroupScore, Invitation, PooledResponse, Response
from surveys.services import AnswerValue
from surveys.tests.factories import campaign_for

only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="xmin, ctid and row locks are PostgreSQL's: CI runs this module on PostgreSQL too",
)


def _open(teams, **fields) -> Campaign:
    campaign = campaign_for(teams, **fields)
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def _answers(campaign: Campaign, invitation: Invitation, score: int = 4) -> dict[int, AnswerValue]:
    """Answers that say who wrote them (the text), so that a test knows the truth an attacker looks for."""
    questions = {q.key: q.pk for q in campaign.version.questions.all()}
    return {
        questions["ci_cd_flaky"]: AnswerValue(number=score),
        questions["enps_team"]: AnswerValue(number=invitation.person_id % 11),
        questions["open_slows_you"]: AnswerValue(text=f"respondent {invitation.person_id}"),
    }


def _authors() -> dict[str, int]:
    """Response id → the person whose answers it holds (from the answers' text)."""
    rows = Answer.objects.filter(text__startswith="respondent ").values_list("response_id", "text")
    return {str(response): int(text.split()[1]) for response, text in rows}


# --- The selection rule (pure) -------------------------------------------------------------------


def test_a_label_below_2k_does_not_move_and_from_2k_all_but_k_move():
    rng = random.Random(1)
    assert anonymity.pool_selection({7: list(range(9))}, 5, rng, closing=False) == []
    moved = anonymity.pool_selection({7: list(range(10)), 8: list(range(100, 109))}, 5, rng, closing=False)
    assert len(moved) == 5 and set(moved) < set(range(10))


def test_closing_moves_everything_whatever_the_size():
    rng = random.Random(2)
    moved = anonymity.pool_selection({7: [1, 2], None: [3, 4, 5, 6, 7, 8]}, 3, rng, closing=True)
    assert sorted(moved) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_k_below_3_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        anonymity.pool_selection({1: [1, 2, 3, 4]}, 2, random.Random(3), closing=False)


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(3, 6),
    events=st.lists(st.one_of(st.integers(0, 2), st.just("move")), max_size=120),
    seed=st.integers(0, 2**32),
)
def test_every_moved_entry_had_at_least_k_candidates_of_its_label(k, events, seed):
    """Whatever the order of submits and moves: a move while open draws each label from ≥ 2k pooled entries and
    leaves k behind, so the last move, at closing, holds ≥ k entries of every label moved before (the remainder
    attack finds no group of 1 … k-1), and every entry becomes a response exactly once."""
    rng = random.Random(seed)
    pool: dict[int, list[int]] = defaultdict(list)
    moved_before: set[int] = set()
    moved: list[int] = []
    label_of: dict[int, int] = {}
    for entry, event in enumerate([*events, "close"]):
        if isinstance(event, int):
            pool[event].append(entry)
            label_of[entry] = event
            continue
        closing = event == "close"
        chosen = anonymity.pool_selection(pool, k, rng, closing=closing)
        by_label = Counter(label_of[e] for e in chosen)
        for label, n in by_label.items():
            held = len(pool[label])
            if closing:
                assert n == held and (held >= k or label not in moved_before)
            else:
                assert held >= 2 * k and n == held - k
            moved_before.add(label)
        assert set(chosen) <= {e for entries in pool.values() for e in entries}
        for label in by_label:
            pool[label] = [e for e in pool[label] if e not in set(chosen)]
        moved += chosen
    assert sorted(moved) == sorted(label_of) and not any(pool.values())


# --- Submitting, moving, closing -----------------------------------------------------------------


@pytest.fixture
def squad(db):
    team = TeamFactory(slug="squad", name="Squad")
    MembershipFactory.create_batch(12, team=team)
    return team


def test_a_submit_runs_three_statements_and_queues_the_move_with_the_campaign_id_only(
    squad, django_assert_max_num_queries, django_capture_on_commit_callbacks, monkeypatch
):
    campaign = _open([squad], k=3)
    invitation = campaign.invitations.select_related("campaign").first()
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, *args, **kwargs: queued.append((func, args, kwargs)))

    answers = _answers(campaign, invitation)
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(5) as captured:
        services.response_submit(invitation=invitation, answers=answers)

    # The campaign row lock, the claim, the pool row (the test's transaction adds a savepoint and its release).
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3
    assert queued == [("surveys.tasks.move_pool", (campaign.pk,), {"group": "surveys-pool", "save": False})]
    assert PooledResponse.objects.count() == 1 and not Response.objects.exists()


def test_a_pool_below_2k_of_a_label_stays_and_the_2k_th_submit_moves_all_but_k(
    squad, django_capture_on_commit_callbacks
):
    campaign = _open([squad], k=3)
    invitations = list(campaign.invitations.all())
    with django_capture_on_commit_callbacks(execute=True):  # each submit's queued move runs (django-q2 sync)
        for invitation in invitations[:5]:
            services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    assert campaign.pooled.count() == 5 and not campaign.responses.exists()
    assert services.pool_move(campaign_id=campaign.pk) == 0  # idempotent: nothing to do is nothing done

    with django_capture_on_commit_callbacks(execute=True):
        services.response_submit(invitation=invitations[5], answers=_answers(campaign, invitations[5]))

    assert campaign.pooled.count() == 3 and campaign.responses.count() == 3
    assert Answer.objects.filter(response__campaign=campaign).count() == 9
    assert services.pool_move(campaign_id=campaign.pk) == 0


def test_a_move_touches_no_invitation_and_gives_new_keys(squad, django_assert_max_num_queries):
    campaign = _open([squad], k=3)
    for invitation in campaign.invitations.all()[:6]:
        services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    pooled_keys = set(PooledResponse.objects.values_list("pk", flat=True))

    with django_assert_max_num_queries(10) as captured:
        assert services.pool_move(campaign_id=campaign.pk) == 3

    assert not [q["sql"] for q in captured.captured_queries if "surveys_invitation" in q["sql"]]
    assert not pooled_keys & set(Response.objects.values_list("pk", flat=True))
    assert not pooled_keys & set(Answer.objects.values_list("pk", flat=True))


def test_the_tick_moves_a_pool_whose_queued_move_was_lost(squad):
    campaign = _open([squad], k=3)
    for invitation in campaign.invitations.all()[:7]:  # no on_commit here: the queued moves never run
        services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    assert campaign.pooled.count() == 7

    tasks.tick()

    assert campaign.pooled.count() == 3 and campaign.responses.count() == 4


def test_closing_moves_the_whole_pool_before_the_scores_are_published(squad, django_capture_on_commit_callbacks):
    campaign = _open([squad], k=3)
    for invitation in campaign.invitations.all()[:4]:
        services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    assert campaign.pooled.count() == 4 and not campaign.responses.exists()

    with django_capture_on_commit_callbacks(execute=True):  # publish_scores runs inline, after the commit
        services.campaign_close(campaign_id=campaign.pk)

    assert not campaign.pooled.exists() and campaign.responses.count() == 4
    organisation = GroupScore.objects.get(campaign=campaign, team=None)
    assert organisation.status == Status.SHOWN and organisation.responses == 4
    assert services.pool_move(campaign_id=campaign.pk) == 0  # a late queued move finds nothing


def test_no_submit_after_closing_and_nothing_pooled(squad):
    campaign = _open([squad], k=3)
    invitation = campaign.invitations.select_related("campaign").first()
    services.campaign_close(campaign_id=campaign.pk)
    with pytest.raises(services.NotOpen):
        # The invitation's campaign object still says open: the database decides.
        services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    invitation.refresh_from_db()
    assert not invitation.responded and not PooledResponse.objects.exists()


def test_the_published_figures_are_those_of_the_same_answers_stored_directly(squad, django_capture_on_commit_callbacks):
    """Pooling changes where answers wait, not what is published: a campaign answered through the pool and one whose
    responses were written as the submit wrote them before the pool publish the same figures."""
    pooled = _open([squad], k=3, name="Through the pool")
    direct = _open([squad], k=3, name="Written directly")
    assert pooled.version_id == direct.version_id  # the same questions, so the same question ids in the counts
    scores = [1, 2, 4, 5, 5, 3, 4, 4, 2, 5, 1, 4]
    with django_capture_on_commit_callbacks(execute=True):
        for invitation, score in zip(pooled.invitations.order_by("person"), scores, strict=True):
            services.response_submit(invitation=invitation, answers=_answers(pooled, invitation, score))
    for invitation, score in zip(direct.invitations.order_by("person"), scores, strict=True):
        Invitation.objects.filter(pk=invitation.pk).update(responded=True, responded_on=timezone.now().date())
        response = Response.objects.create(campaign=direct, label_id=invitation.label_id)
        Answer.objects.bulk_create(
            Answer(response=response, question_id=question, number=value.number, text=value.text)
            for question, value in _answers(direct, invitation, score).items()
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_close(campaign_id=pooled.pk)
        services.campaign_close(campaign_id=direct.pk)

    fields = ("team", "status", "text_status", "responses", "dimensions", "enps", "counts")
    published = [list(GroupScore.objects.filter(campaign=c).order_by("team").values(*fields)) for c in (pooled, direct)]
    assert published[0] == published[1] and published[0][0]["responses"] == 12


# --- PostgreSQL: the attacker with database access -------------------------------------------------


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_neither_xmin_nor_ctid_pairs_a_response_with_its_invitation():
    """300 people of two teams (k = 5) answer one by one, each submit committed and its queued move run, as in
    production; then the campaign closes. The attacker knows each invitation's claim (its xmin) and reads the
    responses' xmin and ctid. Today's storage paired every one of them; now equal transaction ids pair nothing, and
    pairing by order or by the latest claim before a move is right about 1 time in 2k (the pool a move draws
    from), bounded here by 1 in k, far above the expected rate and far below certainty."""
    k, n = 5, 300
    teams = [TeamFactory(slug=f"crew-{i}", name=f"Crew {i}") for i in range(2)]
    for team in teams:
        MembershipFactory.create_batch(n // 2, team=team)
    campaign = _open(teams, k=k)
    invitations = list(campaign.invitations.select_related("campaign").order_by("?"))
    for invitation in invitations:  # one request each: committed, then its move runs (django-q2 sync)
        services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    assert campaign.responses.count() > n // 2  # most moved while open
    services.campaign_close(campaign_id=campaign.pk)
    assert not PooledResponse.objects.exists() and campaign.responses.count() == n

    authors = _authors()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT person_id, label_id, xmin::text::bigint, ctid FROM surveys_invitation"
            " WHERE campaign_id = %s AND responded ORDER BY xmin::text::bigint",
            [campaign.pk],
        )
        claims = cursor.fetchall()
        cursor.execute(
            "SELECT id::text, label_id, xmin::text::bigint FROM surveys_response WHERE campaign_id = %s ORDER BY ctid",
            [campaign.pk],
        )
        responses = cursor.fetchall()
        cursor.execute("SELECT DISTINCT xmin::text::bigint FROM surveys_answer")
        answer_xmins = {row[0] for row in cursor.fetchall()}
    assert len(claims) == len(responses) == len(authors) == n

    # 1. Equal transaction ids: no response, no answer shares one with a claim.
    claim_xmins = {xmin for _, _, xmin, _ in claims}
    assert not claim_xmins & {xmin for _, _, xmin in responses}
    assert not claim_xmins & answer_xmins

    # 2. Physical order: the i-th response (by ctid) of a label is the i-th claim of the label.
    # 3. Transaction order: the same with responses by (xmin, ctid) — a move's batch in insertion order.
    # 4. Adjacency: a response is the latest claim of its label before the move that wrote it.
    claims_by_label: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for person, label, xmin, _ in claims:
        claims_by_label[label].append((xmin, person))
    by_ctid: dict[int, list[str]] = defaultdict(list)
    by_xmin: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for position, (response, label, xmin) in enumerate(responses):
        by_ctid[label].append(response)
        by_xmin[label].append((xmin, position, response))
    hits = Counter()
    for label, claimed in claims_by_label.items():
        people = [person for _, person in claimed]
        hits["ctid order"] += sum(authors[r] == p for r, p in zip(by_ctid[label], people, strict=True))
        ordered = [r for _, _, r in sorted(by_xmin[label])]
        hits["xmin order"] += sum(authors[r] == p for r, p in zip(ordered, people, strict=True))
        for xmin, _, response in by_xmin[label]:
            before = [person for claim, person in claimed if claim < xmin]
            hits["latest claim before"] += bool(before) and authors[response] == before[-1]
    for attack, hit in hits.items():
        assert hit <= n // k, (attack, hits)  # expected about n / 2k; storing in the claim's transaction: n


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_submit_waiting_on_a_closing_campaign_is_refused_and_pools_nothing():
    """Closing holds the campaign row while it empties the pool: a submit arriving meanwhile waits, then finds the
    campaign closed, so no answer lands in the pool after it was emptied (and none is lost there)."""
    team = TeamFactory(slug="late", name="Late")
    MembershipFactory.create_batch(4, team=team)
    campaign = _open([team], k=3)
    invitation = campaign.invitations.select_related("campaign").first()
    closing, outcome = threading.Event(), []

    def submit() -> None:
        closing.wait()
        try:
            services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
            outcome.append("pooled")
        except services.NotOpen:
            outcome.append("refused")
        finally:
            connection.close()

    thread = threading.Thread(target=submit)
    thread.start()
    with transaction.atomic():
        services.campaign_close(campaign_id=campaign.pk)
        closing.set()
        time.sleep(0.5)  # the submit is waiting for the campaign row
        assert not outcome
    thread.join()

    assert outcome == ["refused"]
    invitation.refresh_from_db()
    assert not invitation.responded and not PooledResponse.objects.exists()


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_moves_at_once_move_each_pooled_answer_once():
    team = TeamFactory(slug="twice", name="Twice")
    MembershipFactory.create_batch(9, team=team)
    campaign = _open([team], k=3)
    PooledResponse.objects.bulk_create(  # nine answers waiting, as if no queued move had run yet
        services.pool_entry(campaign_id=campaign.pk, label_id=i.label_id, answers=_answers(campaign, i))
        for i in campaign.invitations.all()
    )
    barrier, moved = threading.Barrier(2), []

    def move() -> None:
        try:
            barrier.wait()
            moved.append(services.pool_move(campaign_id=campaign.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=move) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(moved) == [0, 6]  # they took turns: the second found k left, below 2k
    assert campaign.responses.count() == 6 and campaign.pooled.count() == 3
    assert len(set(_authors().values())) == 6


def test_answers_waiting_for_a_team_deleted_meanwhile_keep_its_label_as_its_invitations_do(squad):
    campaign = _open([squad], k=3)
    for invitation in campaign.invitations.all()[:4]:
        services.response_submit(invitation=invitation, answers=_answers(campaign, invitation))
    label = squad.pk
    squad.delete()

    services.campaign_close(campaign_id=campaign.pk)

    assert set(campaign.invitations.values_list("label_id", flat=True)) == {label}
    assert list(campaign.responses.values_list("label_id", flat=True)) == [label] * 4
