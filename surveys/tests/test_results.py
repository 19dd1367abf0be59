"""The results selector (``surveys.results``) on hand-made data: exact figures, and each output rule
of docs/surveys.md#anonymity.

The organisation of every test is the hand-made one of surveys/tests/waves.py (k = 3, text threshold 4),
drawn in its docstring.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e360.tests.factories import UserFactory
from surveys import anonymity, results, services
from surveys.anonymity import Status
from surveys.models import Campaign, GroupScore, Response
from surveys.tests.results_readers import dimension, group, question, results_for, scope, slugs
from surveys.tests.waves import (
    PAY,
    PAY_API,
    SEARCH,
    answer,
    bulk_responses,
    close,
    open_wave,
    org_viewer,
    pay_waves,
    results_template,
)

# --- Exact figures ------------------------------------------------------------------------------------------------


def test_a_team_s_figures_aggregate_its_subtree_exactly(closed, org):
    res = results_for(org.users["lena"], closed)
    pay = group(res, "pay")  # pay's 4 responses and pay-api's 3

    assert pay.status == Status.SHOWN and pay.responses == 7
    fast, waiting = question(pay, "ci_fast"), question(pay, "ci_waiting")
    assert (fast.answered, fast.percent_favourable, fast.mean) == (6, pytest.approx(100 * 4 / 6), pytest.approx(20 / 6))
    # Reverse-coded: 1, 2, 5, 4, 4, 4, 4 count as 5, 4, 1, 2, 2, 2, 2.
    assert (waiting.percent_favourable, waiting.mean) == (pytest.approx(100 * 2 / 7), pytest.approx(18 / 7))
    assert [(b.label, b.count, b.tone) for b in waiting.bars] == [
        ("Strongly disagree", 1, "favourable"),
        ("Disagree", 1, "favourable"),
        ("Neither agree nor disagree", 0, "neutral"),
        ("Agree", 4, "unfavourable"),
        ("Strongly agree", 1, "unfavourable"),
    ]
    ci_cd = dimension(pay, "ci_cd")
    assert ci_cd.percent_favourable == pytest.approx((100 * 4 / 6 + 100 * 2 / 7) / 2)
    assert ci_cd.mean == pytest.approx((20 / 6 + 18 / 7) / 2)
    assert dimension(pay, "focus").percent_favourable == pytest.approx(100 * 2 / 7)
    # eNPS 10, 9, 6, 8, 7, 10, 0: 3 promoters, 2 passives, 2 detractors.
    assert pay.enps.enps.score == pytest.approx(100 * (3 - 2) / 7)
    assert (pay.enps.enps.promoters, pay.enps.enps.passives, pay.enps.enps.detractors) == (3, 2, 2)
    role = question(pay, "role")
    assert role.answered == 4 and role.percents == {"Backend": 50.0, "Frontend": 25.0, "Platform": 25.0}
    assert [b.count for b in role.bars] == [2, 1, 1]
    # Against the organisation's 6 favourable of 11 answers.
    assert fast.change_org == pytest.approx(100 * 4 / 6 - 100 * 6 / 11)
    assert fast.change_wave is None and res.previous is None


def test_the_organisation_aggregates_every_response(closed, org):
    res = results_for(org.users["lena"], closed)
    whole = res.groups[0]

    assert whole.group.is_org and whole.responses == 12
    assert question(whole, "ci_fast").percent_favourable == pytest.approx(100 * 6 / 11)
    assert whole.enps.enps.score == pytest.approx(100 * (5 - 4) / 12)
    assert dimension(whole, "ci_cd").change_org is None  # nothing to compare the organisation with
    # Engineering is the campaign's root: every response is below it, so its figures are the organisation's.
    assert group(res, "eng").responses == 12
    assert res.dimensions == (("ci_cd", "CI/CD"), ("focus", "Focus"))


def test_participation_counts_invitations_by_team_at_opening(closed, org):
    res = results_for(org.users["lena"], closed)

    p = res.groups[0].participation.participation
    assert (p.invited, p.responded) == (17, 12) and p.below_target and not p.flagged
    assert group(res, "pay").participation.participation.invited == 9  # pay's 6 and pay-api's 3
    search = group(res, "search").participation.participation
    assert (search.invited, search.responded, search.flagged) == (4, 2, True)


# --- Rule 3: no group below k -------------------------------------------------------------------------------------


def test_a_group_of_fewer_than_k_responses_shows_no_figure(closed, org):
    search = group(results_for(org.users["lena"], closed), "search")

    assert (search.status, search.status_text, search.responses) == (Status.TOO_FEW, "fewer than 3 responses", None)
    for figure in [*search.dimensions, search.enps, *search.questions]:
        assert figure.status == Status.TOO_FEW and figure.status_text == "fewer than 3 responses"
    assert all(d.percent_favourable is None and d.mean is None for d in search.dimensions)
    assert search.enps.enps is None
    assert all(q.answered is None and q.bars == () and q.percent_favourable is None for q in search.questions)


def test_no_data_is_not_fewer_than_k(closed, org):
    tiny = group(results_for(org.users["lena"], closed), "tiny")

    # Tiny's two invitees were stored under Engineering (rule 2): Tiny itself has no responses at all.
    assert tiny.status == Status.NO_DATA
    assert tiny.status_text == "no data: its answers count in Engineering"
    assert tiny.participation.status == Status.TOO_FEW and tiny.participation.status_text == "fewer than 3 invited"


def test_k_is_the_campaign_s(org):
    campaign = open_wave(org, k=4, text_threshold=4)
    answer(campaign, org.search, *SEARCH, SEARCH[0])  # 3: enough for k = 3, fewer than 4
    answer(campaign, org.pay, *PAY)
    close(campaign)
    search = group(results_for(org.users["lena"], campaign), "search")

    assert (search.status, search.status_text) == (Status.TOO_FEW, "fewer than 4 responses")


# --- Rule 4: no differencing --------------------------------------------------------------------------------------


def test_a_second_group_is_hidden_so_that_subtraction_reveals_nobody(differencing, org):
    res = results_for(org.users["lena"], differencing)

    assert group(res, "eng").responses == 9
    assert group(res, "search").status == Status.TOO_FEW
    pay = group(res, "pay")
    assert (pay.status, pay.status_text) == (Status.SUPPRESSED, "hidden to protect a small group")
    assert pay.responses is None and all(d.percent_favourable is None for d in pay.dimensions)
    assert pay.enps.enps is None and all(q.bars == () for q in pay.questions)
    # Hiding Payments is enough: Engineering less Payments API leaves 6.
    assert group(res, "pay-api").responses == 3


@pytest.mark.parametrize("viewer", ["lena", "paula", "pay-1", "olga"])
def test_every_viewer_gets_the_same_suppression(differencing, org, viewer):
    user = org_viewer() if viewer == "olga" else org.users[viewer]
    res = results_for(user, differencing)

    assert group(res, "pay").status == Status.SUPPRESSED
    assert res.groups[0].responses == 9


def maximal_inside(outer, shown: set, tree: results.TeamTree) -> list[int]:
    """The shown groups strictly inside ``outer`` (None: the organisation) with no shown group between them."""
    inside = []
    for team in shown - {None, outer}:
        above = tree.chain(team)[1:]
        if outer is not None and outer not in above:
            continue
        between = above if outer is None else above[: above.index(outer)]
        if not any(a in shown for a in between):
            inside.append(team)
    return inside


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.tuples(*[st.integers(0, 7)] * 5), k=st.sampled_from([3, 4, 5]))
def test_no_output_isolates_fewer_than_k_responses(closed, org, counts, k):
    """Over random response counts per label, for every viewer: a shown group has at least k responses, and no
    shown group less the largest shown groups inside it leaves 1 … k-1 (the same for texts, with their threshold)."""
    with transaction.atomic():
        Response.objects.filter(campaign=closed).delete()
        Campaign.objects.filter(pk=closed.pk).update(k=k, text_threshold=k + 1)
        for label, n in zip([None, org.eng, org.pay, org.api, org.search], counts, strict=True):
            bulk_responses(closed, label, n, (4, 2, 4, 9, "Backend", "Some text."))
        for username in ["lena", "paula", "api-0", "pay-1", f"olga-{k}"]:
            user = org.users.get(username) or org_viewer(username)
            res = results_for(user, closed)
            shown = {g.group.id: g.responses for g in res.groups if g.shown}
            assert all(n >= k for n in shown.values())
            tree = scope(user, closed).tree
            for outer, n in shown.items():
                remainder = n - sum(shown[team] for team in maximal_inside(outer, set(shown), tree))
                assert remainder == 0 or remainder >= k, (username, outer, shown)
            with_texts = {
                g.group.id: g.responses
                for g in res.groups
                if results_for(user, closed, team=g.group.slug or None).texts[0].shown
            }
            assert all(n >= k + 1 for n in with_texts.values())
            for outer, n in with_texts.items():
                remainder = n - sum(with_texts[team] for team in maximal_inside(outer, set(with_texts), tree))
                assert remainder == 0 or remainder >= k + 1, (username, outer, with_texts)
        transaction.set_rollback(True)


# --- Rule 5: free text --------------------------------------------------------------------------------------------


def test_free_text_needs_the_text_threshold_of_responses(closed, org):
    api = results_for(org.users["lena"], closed, team="pay-api")  # 3 responses, threshold 4

    assert [(t.status, t.status_text, t.texts) for t in api.texts] == [(Status.TOO_FEW, "fewer than 4 responses", ())]
    pay = results_for(org.users["lena"], closed, team="pay")  # 7 responses: pay's and pay-api's texts, unlabelled
    assert sorted(pay.texts[0].texts) == sorted(
        [
            "Flaky integration tests in the API repo.",
            "Waiting for the staging database.",
            "Release trains every two weeks.",
            "Too many meetings.",
        ]
    )


def test_the_organisation_s_texts_are_every_response_s(closed, org):
    texts = results_for(org.users["api-0"], closed).texts  # a developer: the organisation's texts

    assert len(texts[0].texts) == 6 and "A secret only search would write." in texts[0].texts


def test_texts_are_hidden_where_subtraction_would_isolate_a_small_group(differencing, org):
    # Engineering (9) has texts; Payments (7) too by count, but Engineering's less Payments' would be Search's
    # two respondents' texts: Payments' texts are hidden.
    eng = results_for(org.users["lena"], differencing, team="eng").texts[0]
    pay = results_for(org.users["lena"], differencing, team="pay").texts[0]

    assert eng.status == Status.SHOWN and "A secret only search would write." in eng.texts
    assert (pay.status, pay.texts) == (Status.SUPPRESSED, ())


def test_texts_come_in_the_shuffled_order_never_submission_order(closed, org, monkeypatch):
    calls = []
    shuffle = anonymity.shuffled_texts

    def spy(texts, seed):
        texts = list(texts)
        calls.append((texts, seed))
        return shuffle(texts, seed)

    monkeypatch.setattr(anonymity, "shuffled_texts", spy)
    first = results_for(org.users["lena"], closed).texts[0].texts
    again = results_for(org.users["lena"], closed).texts[0].texts

    texts, seed = calls[0]
    assert len(calls) == 2 and first == again  # the same page lists them the same way
    # Whatever order the database gave them in, the page's order is the keyed shuffle's.
    assert list(first) == shuffle(list(reversed(texts)), seed) == shuffle(sorted(texts), seed)


# --- Rule 6: scores only after close ------------------------------------------------------------------------------


def test_an_open_campaign_shows_participation_and_reads_no_response(org):
    campaign = open_wave(org)
    answer(campaign, org.pay, *PAY)
    answer(campaign, org.api, *PAY_API)

    with CaptureQueriesContext(connection) as queries:
        res = results_for(org.users["lena"], campaign)

    assert not res.published and res.texts == () and res.dimensions == ()
    for g in res.groups:
        assert (g.status, g.responses, g.dimensions, g.enps, g.questions) == (None, None, (), None, ())
    assert group(res, "pay").participation.participation.responded == 7
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "surveys_response" not in sql and "surveys_answer" not in sql


# --- Waves --------------------------------------------------------------------------------------------------------


def test_a_change_since_the_previous_wave_needs_the_group_shown_in_both(two_waves, org):
    first, second = two_waves
    res = results_for(org.users["lena"], second)

    assert res.previous == first
    # Payments API is shown in both waves: ci_fast went from 1 favourable of 3 to 2 of 3.
    api = group(res, "pay-api")
    assert question(api, "ci_fast").change_wave == pytest.approx(100 * 2 / 3 - 100 * 1 / 3)
    # The organisation: 6 of 11 now, 5 of 8 then.
    assert question(res.groups[0], "ci_fast").change_wave == pytest.approx(100 * 6 / 11 - 100 * 5 / 8)
    assert res.groups[0].enps.change_wave is not None
    # Payments was hidden in wave 1 (against differencing): its change would reveal its hidden figure.
    pay = group(res, "pay")
    assert pay.shown and all(d.change_wave is None for d in pay.dimensions)
    assert pay.enps.change_wave is None and all(q.change_wave is None for q in pay.questions)


def test_a_change_is_hidden_when_one_to_k_minus_1_people_joined_or_left(org):
    _, second = pay_waves(org, 4, 5)  # the same 4, and one more: the change is mostly the fifth person's
    res = results_for(org.users["lena"], second)
    for g in (res.groups[0], group(res, "pay"), group(res, "eng")):
        assert g.shown  # each wave's own figures are shown ...
        figures = [*g.dimensions, g.enps, *g.questions]
        assert all(f.change_wave is None and f.change_wave_status == Status.SUPPRESSED for f in figures), g.group
        assert all(f.change_wave_hidden for f in figures)
    # ... and the change is hidden, distinct from a change that has no data.
    assert group(res, "pay").dimensions[0].status == Status.SHOWN


def test_a_change_is_shown_when_whoever_joined_are_at_least_k(org):
    _, second = pay_waves(org, 3, 6)  # 3 more people: no fewer than k = 3
    pay = group(results_for(org.users["lena"], second), "pay")
    assert pay.dimensions[0].change_wave_status == Status.SHOWN
    assert pay.dimensions[0].change_wave == pytest.approx(100 - 0)  # ci_cd: all favourable now, none before


def test_a_question_s_change_is_hidden_when_its_answer_counts_differ_by_fewer_than_k(org):
    one = open_wave(org)
    answer(one, org.pay, *([(4, 2, 4, 9, "Backend", None)] * 5))
    close(one)
    two = open_wave(org, series=one.series, wave=2)
    answer(two, org.pay, *([(5, 1, 5, 10, "Backend", None)] * 4), (5, 1, None, 10, "Backend", None))
    pay = group(results_for(org.users["lena"], close(two)), "pay")
    # The same five people answered, but one skipped focus_time: its change would be four people's against five.
    assert question(pay, "focus_time").change_wave_status == Status.SUPPRESSED
    assert dimension(pay, "focus").change_wave is None and dimension(pay, "focus").change_wave_hidden
    assert question(pay, "ci_fast").change_wave_status == Status.SHOWN
    assert question(pay, "ci_fast").change_wave == pytest.approx(0)  # all favourable in both waves


# --- Per question (rule 3 within a shown group) -----------------------------------------------------------------


def test_a_question_answered_by_fewer_than_k_of_a_shown_group_is_withheld(skipped, org):
    api = group(results_for(org.users["lena"], skipped), "pay-api")
    assert api.shown and api.responses == 3
    focus = question(api, "focus_time")
    assert (focus.status, focus.status_text, focus.answered, focus.bars) == (
        Status.TOO_FEW,
        "fewer than 3 answers",
        None,
        (),
    )
    # Its only item withheld, the focus dimension is too; the eNPS (one answer) too.
    assert (dimension(api, "focus").status, dimension(api, "focus").status_text) == (
        Status.TOO_FEW,
        "fewer than 3 answers",
    )
    assert (api.enps.status, api.enps.score) == (Status.TOO_FEW, None)
    stored = GroupScore.objects.get(campaign=skipped, team=org.api)
    asked = {q.key: str(q.pk) for q in skipped.version.questions.all()}
    assert asked["focus_time"] not in stored.counts and asked["enps"] not in stored.counts


def test_a_question_is_withheld_where_subtraction_would_isolate_fewer_than_k_answers(skipped, org):
    res = results_for(org.users["lena"], skipped)
    pay, api = group(res, "pay"), group(res, "pay-api")
    # ci_fast: Payments 4 answers, Payments API 3 of them: shown both, one answer would be Payments' own.
    assert question(pay, "ci_fast").status == Status.SHOWN and question(pay, "ci_fast").answered == 4
    assert (question(api, "ci_fast").status, question(api, "ci_fast").status_text) == (
        Status.SUPPRESSED,
        "hidden to protect a small group",
    )
    # A dimension is the mean of its shown items only: ci_cd of pay-api is ci_waiting's alone, so the dimension
    # reveals nothing its shown items do not.
    waiting = question(api, "ci_waiting")
    assert dimension(api, "ci_cd").percent_favourable == pytest.approx(waiting.percent_favourable)
    assert dimension(api, "ci_cd").mean == pytest.approx(waiting.mean)


def test_the_first_wave_has_nothing_to_compare_with(two_waves, org):
    first, _ = two_waves
    res = results_for(org.users["lena"], first)

    assert res.previous is None
    assert all(d.change_wave is None for g in res.groups for d in g.dimensions)


# --- Who sees what ------------------------------------------------------------------------------------------------


def test_a_developer_sees_the_organisation_and_their_own_team(closed, org):
    assert slugs(results_for(org.users["api-0"], closed)) == ["", "pay-api"]
    # A plain member of Payments does not see its sub-team Payments API.
    assert slugs(results_for(org.users["pay-1"], closed)) == ["", "pay"]


def test_a_lead_sees_their_subtree(closed, org):
    assert slugs(results_for(org.users["paula"], closed)) == ["", "pay", "pay-api"]
    assert slugs(results_for(org.users["lena"], closed)) == ["", "eng", "pay", "pay-api", "search", "tiny"]


def test_org_viewers_and_staff_see_the_same_cells_as_everyone(closed, org, staff):
    lena = results_for(org.users["lena"], closed)
    for user in (org_viewer(), staff):
        res = results_for(user, closed)
        assert slugs(res) == slugs(lena)  # the campaign's teams only, not Sales tools
        assert [(g.status, g.responses, g.dimensions) for g in res.groups] == [
            (g.status, g.responses, g.dimensions) for g in lena.groups
        ]


def test_the_depth_follows_the_listed_teams(closed, org):
    res = results_for(org.users["lena"], closed)

    assert [(g.group.name, g.group.depth) for g in res.groups] == [
        ("Whole organisation", 0),
        ("Engineering", 1),
        ("Payments", 2),
        ("Payments API", 3),
        ("Search", 2),
        ("Tiny", 2),
    ]
    # Named by their path: a select cannot indent, and screen readers read dashes as dashes.
    assert [t.label for t in res.teams][:3] == [
        "Engineering",
        "Engineering › Payments",  # noqa: RUF001
        "Engineering › Payments › Payments API",  # noqa: RUF001
    ]


def test_a_team_narrows_the_output_to_its_subtree(closed, org):
    res = results_for(org.users["lena"], closed, team="pay")

    assert slugs(res) == ["", "pay", "pay-api"] and res.focus.group.slug == "pay"
    assert res.focus.responses == 7


@pytest.mark.parametrize(("viewer", "team"), [("api-0", "search"), ("lena", "sales-tools"), ("lena", "nope")])
def test_a_team_one_may_not_see_is_a_404(closed, org, viewer, team):
    with pytest.raises(Http404):
        results_for(org.users[viewer], closed, team=team)


def test_an_outsider_gets_a_404(closed, org):
    with pytest.raises(Http404):
        scope(org.users["charlie"], closed)


def test_a_user_without_a_person_gets_a_404(closed):
    with pytest.raises(Http404):
        scope(UserFactory(username="nobody"), closed)


def test_a_draft_campaign_has_no_results_even_for_org_viewers(org):
    draft = services.campaign_create(
        name="Later",
        template=results_template(),
        teams=[org.eng],
        opens_at=timezone.now() + timedelta(days=1),
        closes_at=timezone.now() + timedelta(days=2),
    )
    with pytest.raises(Http404):
        scope(org_viewer(), draft)
    assert results.campaigns_for_user(org_viewer("olga-2")) == []


def test_the_index_lists_campaigns_with_a_team_one_sees(closed, org):
    assert results.campaigns_for_user(org.users["api-0"]) == [closed]
    assert results.campaigns_for_user(org.users["charlie"]) == []
    assert results.campaigns_for_user(org_viewer()) == [closed]


def test_a_campaign_of_a_sub_team_is_not_shown_to_its_parent_s_members(org):
    campaign = services.campaign_create(
        name="Payments only",
        template=results_template(),
        teams=[org.pay],
        opens_at=timezone.now() - timedelta(hours=1),
        closes_at=timezone.now() + timedelta(days=1),
        k=3,
    )
    services.campaign_open(campaign_id=campaign.pk)
    # eli is a plain member of Engineering, above Payments: Engineering's figure would be Payments'.
    with pytest.raises(Http404):
        scope(org.users["eli"], campaign)
    assert slugs(results_for(org.users["lena"], campaign)) == ["", "pay", "pay-api"]


# --- Cost ---------------------------------------------------------------------------------------------------------


def test_the_queries_do_not_grow_with_responses(closed, org):
    def count() -> tuple[int, int]:
        GroupScore.objects.filter(campaign=closed).delete()  # computed again, as after a team moved
        lena = type(org.users["lena"]).objects.get(username="lena")  # nothing cached on the user
        with CaptureQueriesContext(connection) as computing:
            results_for(lena, closed, team="pay")
        with CaptureQueriesContext(connection) as reading:
            results_for(lena, closed, team="pay")
        return len(computing.captured_queries), len(reading.captured_queries)

    few = count()
    bulk_responses(closed, org.api, 400)
    bulk_responses(closed, org.pay, 400, (1, 5, 1, 0, "Platform", "More text."))
    assert count() == few
    computing, reading = few
    assert computing <= 22
    assert reading <= 12


def test_a_page_may_list_fewer_levels_without_changing_any_cell(closed, org):
    everything = results_for(org.users["lena"], closed)
    top = results.campaign_results(scope(org.users["lena"], closed), levels=1)

    listed = {g.group.slug: g for g in everything.groups}
    assert 0 < len(top.groups) < len(everything.groups)
    for g in top.groups:
        assert (g.status, g.responses, g.dimensions) == (
            listed[g.group.slug].status,
            listed[g.group.slug].responses,
            listed[g.group.slug].dimensions,
        )
