"""Answering surveys: my surveys, the one-page form, the thanks page.

A person sees only the campaigns they are invited to: anyone else gets 404, with a page
that says so. The form stores nothing until it is submitted whole and valid.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from e360 import access
from e360.views import HtmxHttpRequest
from surveys import services
from surveys.forms import AnswerForm
from surveys.models import Campaign, Invitation

VISIBLE = [Campaign.Status.OPEN, Campaign.Status.CLOSED]  # drafts and scheduled campaigns are not there yet


def _invitation_for_user(request: HtmxHttpRequest, campaign_id: int) -> Invitation | None:
    """The user's invitation to the campaign; None when there is none (the caller answers 404)."""
    person = access.person_for(request.user)
    if person is None:
        return None
    invitations = Invitation.objects.filter(campaign_id=campaign_id, person=person, campaign__status__in=VISIBLE)
    return invitations.select_related("campaign", "campaign__version").first()


def _not_invited(request: HtmxHttpRequest) -> HttpResponse:
    # A campaign one is not invited to does not exist for them: 404, with a page that says why.
    return render(request, "surveys/not_invited.html", status=404)


@login_required
@require_GET
def my_surveys(request: HtmxHttpRequest) -> HttpResponse:
    person = access.person_for(request.user)
    invitations = (
        Invitation.objects.filter(person=person, campaign__status__in=VISIBLE)
        .select_related("campaign")
        .order_by("-campaign__opens_at")
        if person is not None
        else Invitation.objects.none()
    )
    open_ = [i for i in invitations if i.campaign.status == Campaign.Status.OPEN]
    closed = [i for i in invitations if i.campaign.status == Campaign.Status.CLOSED]
    return render(request, "surveys/my_surveys.html", {"open": open_, "closed": closed, "person": person})


@login_required
@require_http_methods(["GET", "POST"])
def answer(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    invitation = _invitation_for_user(request, campaign_id)
    if invitation is None:
        return _not_invited(request)
    campaign = invitation.campaign
    context = {"campaign": campaign, "invitation": invitation}
    if campaign.status != Campaign.Status.OPEN:
        return render(request, "surveys/closed.html", context, status=410 if request.method == "POST" else 200)
    if invitation.responded:
        return render(request, "surveys/answered.html", context, status=409 if request.method == "POST" else 200)
    questions = campaign.version.questions.order_by("position", "pk")
    form = AnswerForm(questions, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.response_submit(invitation=invitation, answers=form.answers())
            except services.AlreadyAnswered:
                return render(request, "surveys/answered.html", context, status=409)
            except services.NotOpen:
                return render(request, "surveys/closed.html", context, status=410)
            return redirect("surveys:thanks", campaign.pk)
        return render(request, "surveys/answer.html", context | {"form": form}, status=422)
    return render(request, "surveys/answer.html", context | {"form": form})


@login_required
@require_GET
def thanks(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    invitation = _invitation_for_user(request, campaign_id)
    if invitation is None:
        return _not_invited(request)
    if not invitation.responded:
        return redirect("surveys:answer", campaign_id)
    return render(request, "surveys/thanks.html", {"campaign": invitation.campaign, "invitation": invitation})
