"""Answering surveys: my surveys, the one-page form, the thanks page.

A person sees only the campaigns they are invited to (``surveys.access``): anyone else (an
outsider, a user not linked to a person, a campaign that is a draft, scheduled or unknown) gets
404, with a page that says so. The form stores nothing until it is submitted whole and valid.

Answers are kept out of everything but the database (docs/surveys.md, rule 1): nothing here logs
them, the form page is never cached, and error reports leave out the posted values and the
view's variables.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from e360 import access
from e360.htmx import HtmxHttpRequest
from surveys import services
from surveys.access import invitation_for_user, invitations_of
from surveys.anonymity import MIN_K
from surveys.forms import AnswerForm
from surveys.models import Campaign, Invitation, Question


def accepts_answers(campaign: Campaign, now: datetime) -> bool:
    """Open, and not past its closing time (the task that closes it may not have run yet)."""
    return campaign.status == Campaign.Status.OPEN and now < campaign.closes_at


def _not_invited(request: HtmxHttpRequest) -> HttpResponse:
    # A campaign one is not invited to does not exist for them: 404, with a page that says why.
    context = {"has_person": access.person_for(request.user) is not None}
    return render(request, "surveys/not_invited.html", context, status=HTTPStatus.NOT_FOUND)


@login_required
@require_GET
def my_surveys(request: HtmxHttpRequest) -> HttpResponse:
    person = access.person_for(request.user)
    invitations = invitations_of(person).order_by("-campaign__opens_at", "-campaign_id")
    now = timezone.now()
    open_: list[Invitation] = []
    closed: list[Invitation] = []
    for invitation in invitations:
        (open_ if accepts_answers(invitation.campaign, now) else closed).append(invitation)
    context = {
        "person": person,
        # The smallest k listed: true of each campaign ("at least 5" holds where k is 7), exact when all share it.
        "k": min((i.campaign.k for i in [*open_, *closed]), default=None),
        "min_k": MIN_K,
        "to_answer": [i for i in open_ if not i.responded],
        "answered": [i for i in open_ if i.responded],
        "closed": closed,
    }
    return render(request, "surveys/my_surveys.html", context)


@sensitive_variables()
@sensitive_post_parameters()
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def answer(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    invitation = invitation_for_user(request.user, campaign_id)
    if invitation is None:
        return _not_invited(request)
    campaign = invitation.campaign
    posted = request.method == "POST"
    context = {"campaign": campaign, "invitation": invitation}
    if not accepts_answers(campaign, timezone.now()):
        return _closed(request, context)
    if invitation.responded:
        return _answered(request, context)
    questions = Question.objects.filter(version_id=campaign.version_id).order_by("position", "pk")
    form = AnswerForm(questions, request.POST if posted else None, text_threshold=campaign.text_threshold)
    if not posted:
        return render(request, "surveys/answer.html", context | {"form": form})
    if not form.is_valid():
        return render(request, "surveys/answer.html", context | {"form": form}, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    try:
        services.response_submit(invitation=invitation, answers=form.answers())
    except services.AlreadyAnswered:
        # Another submit of the same invitation won the race: its answers are the ones kept.
        invitation.refresh_from_db(fields=["responded", "responded_on"])
        return _answered(request, context)
    except services.NotOpen:
        return _closed(request, context)
    return redirect("surveys:thanks", campaign.pk)


def _closed(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    status = HTTPStatus.GONE if request.method == "POST" else HTTPStatus.OK
    return render(request, "surveys/closed.html", context, status=status)


def _answered(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    status = HTTPStatus.CONFLICT if request.method == "POST" else HTTPStatus.OK
    return render(request, "surveys/answered.html", context, status=status)


@never_cache
@login_required
@require_GET
def thanks(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    invitation = invitation_for_user(request.user, campaign_id)
    if invitation is None:
        return _not_invited(request)
    if not invitation.responded:
        return redirect("surveys:answer", campaign_id)
    return render(request, "surveys/thanks.html", {"campaign": invitation.campaign, "invitation": invitation})
