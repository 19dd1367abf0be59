from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from e360.tests.factories import TeamFactory
from surveys import services
from surveys.models import Answer, Campaign, Invitation, PooledResponse, Question, Response, Template
from surveys.services import AnswerValue
from surveys.tests.factories import campaign_for, members


@pytest.fixture
def org(db):
    root = TeamFactory(slug="org", name="Org", parent=None)
    big = TeamFactory(slug="big", name="Big", parent=root)
    mid = TeamFactory(slug="mid", name="Mid", parent=root)
    small = TeamFactory(slug="small", name="Small", parent=root)
    members(big, 6)
    members(mid, 4)
    members(small, 2)
    return {"root": root, "big": big, "mid": mid, "small": small}


def test_the_shipped_templates_are_loaded_by_the_migration_and_again_changes_nothing(db):
    assert set(Template.objects.values_list("slug", flat=True)) >= {
        "developer-experience",
        "onboarding-week-1",
        "onboarding-month-1",
        "post-incident",
        "quarterly-pulse",
    }
    dx = Template.objects.get(slug="developer-experience")
    assert dx.questions.count() == 22
    assert dx.questions.get(key="ci_cd_flaky").reverse_coded
    assert services.templates_load_bank() == (0, 5)
    assert dx.questions.count() == 22


def test_opening_snapshots_the_audience_with_labels_of_at_least_k_invitees(org):
    campaign = campaign_for([org["root"]])
    assert services.campaign_open(campaign_id=campaign.pk) == 12
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN and campaign.version is not None
    labels = dict(Invitation.objects.values_list("team__slug", "label__slug").distinct())
    assert labels["big"] == "big"
    # Two invitees cannot stand alone; pooled with the smallest group beside them (else the
    # organisation's figure less big's and mid's would be theirs), under the organisation.
    assert labels["small"] is None and labels["mid"] is None
    assert services.campaign_open(campaign_id=campaign.pk) == 0  # twice: nothing more
    assert Invitation.objects.count() == 12


def test_a_campaign_freezes_its_questions_and_editing_the_template_makes_a_new_version(org):
    first = campaign_for([org["big"]])
    services.campaign_open(campaign_id=first.pk)
    first.refresh_from_db()
    template = first.template
    template.questions.filter(key="ci_cd_flaky").update(text="Flaky tests cost me time.")
    second = campaign_for([org["big"]], name="Again")
    services.campaign_open(campaign_id=second.pk)
    second.refresh_from_db()
    assert second.version.number == first.version.number + 1
    assert first.version.questions.get(key="ci_cd_flaky").text.startswith("Flaky tests or pipelines")
    third = campaign_for([org["big"]], name="Third")
    services.campaign_open(campaign_id=third.pk)
    third.refresh_from_db()
    assert third.version == second.version  # nothing changed since: the same version


def test_an_audience_smaller_than_k_cannot_open(org):
    campaign = campaign_for([org["small"]])
    with pytest.raises(services.AudienceError, match="fewer than k = 3"):
        services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not Invitation.objects.exists()


def test_an_empty_audience_cannot_open(org):
    campaign = campaign_for([TeamFactory(slug="nobody", name="Nobody")])
    with pytest.raises(services.AudienceError, match="empty"):
        services.campaign_open(campaign_id=campaign.pk)


def _answers(campaign: Campaign) -> dict[int, AnswerValue]:
    question = campaign.version.questions.get(key="ci_cd_flaky")
    return {question.pk: AnswerValue(number=2)}


def test_a_response_is_stored_under_the_label_and_marks_the_invitation_answered(org):
    campaign = campaign_for([org["root"]])
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    invitation = Invitation.objects.filter(team=org["small"]).first()
    pooled = services.response_submit(invitation=invitation, answers=_answers(campaign))
    assert pooled.label is None  # the organisation: see the test above
    invitation.refresh_from_db()
    assert invitation.responded and invitation.responded_on == timezone.now().date()
    with pytest.raises(services.AlreadyAnswered):
        services.response_submit(invitation=invitation, answers=_answers(campaign))
    assert PooledResponse.objects.count() == 1 and not Response.objects.exists()  # pooled until moved
    services.campaign_close(campaign_id=campaign.pk)
    (response,) = Response.objects.all()
    assert response.label is None and Answer.objects.get(response=response).number == 2


def test_no_response_after_closing(org):
    campaign = campaign_for([org["big"]])
    services.campaign_open(campaign_id=campaign.pk)
    services.campaign_close(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    with pytest.raises(services.NotOpen):
        services.response_submit(invitation=campaign.invitations.first(), answers=_answers(campaign))
    assert not Response.objects.exists() and not PooledResponse.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_store_one_response():
    root = TeamFactory(slug="org", name="Org")
    members(root, 3)
    campaign = campaign_for([root])
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    invitation = campaign.invitations.first()
    answers = _answers(campaign)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            barrier.wait()
            services.response_submit(invitation=Invitation.objects.get(pk=invitation.pk), answers=answers)
            outcomes.append("stored")
        except services.AlreadyAnswered:
            outcomes.append("refused")
        except Exception as exc:  # SQLite may refuse the second writer outright: it stores nothing either
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("stored") == 1
    assert PooledResponse.objects.count() == 1
    services.campaign_close(campaign_id=campaign.pk)
    assert Response.objects.count() == 1
    assert Answer.objects.count() == 1


def test_closing_a_recurring_campaign_schedules_its_next_wave(org):
    campaign = campaign_for([org["big"]], recurrence=Campaign.Recurrence.QUARTERLY, reminder_days=[2, 5])
    services.campaign_open(campaign_id=campaign.pk)
    nxt = services.campaign_close(campaign_id=campaign.pk)
    assert nxt is not None and nxt.series == campaign.series and nxt.wave == 2
    assert nxt.status == Campaign.Status.SCHEDULED and list(nxt.teams.all()) == [org["big"]]
    campaign.refresh_from_db()
    assert nxt.opens_at.month == (campaign.opened_at.month + 2) % 12 + 1
    assert services.campaign_close(campaign_id=campaign.pk) is None  # closed already: no third wave
    assert Campaign.objects.count() == 2


def test_reminders_are_claimed_once_per_step(org):
    campaign = campaign_for([org["big"]], reminder_days=[2, 5])
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    invitation = campaign.invitations.first()
    assert services.reminder_steps_due(campaign, campaign.opened_at + timedelta(days=1)) == 0
    assert services.reminder_steps_due(campaign, campaign.opened_at + timedelta(days=3)) == 1
    assert services.invitation_claim_reminder(invitation_id=invitation.pk, step=1)
    assert not services.invitation_claim_reminder(invitation_id=invitation.pk, step=1)
    assert services.invitation_claim_reminder(invitation_id=invitation.pk, step=2)


def test_the_response_tables_hold_no_link_to_a_person_and_no_time():
    for model in (PooledResponse, Response, Answer):
        for field in model._meta.get_fields():
            assert field.get_internal_type() not in {
                "DateTimeField",
                "DateField",
                "TimeField",
                "AutoField",
                "BigAutoField",
            }, field
            related = getattr(field, "related_model", None)
            assert related is None or related._meta.label in {
                "surveys.Campaign",
                "e360.Team",
                "surveys.Response",
                "surveys.Answer",
                "surveys.Question",
            }, field
    assert Question._meta.get_field("version")
