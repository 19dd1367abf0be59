"""What the answering pages stored of a campaign's answers: in the pool, or moved into responses."""

from __future__ import annotations

from surveys.models import Answer, Campaign, PooledResponse, Response


def stored(campaign: Campaign) -> dict[str, tuple]:
    """The stored answers by question key: (number, choices, text), in the pool or moved into responses."""
    keys = dict(campaign.version.questions.values_list("pk", "key"))
    pooled = [a for answers in campaign.pooled.values_list("answers", flat=True) for a in answers]
    return {keys[a["question"]]: (a["number"], a["choices"], a["text"]) for a in pooled} | {
        a.question.key: (a.number, a.choices, a.text)
        for a in Answer.objects.filter(response__campaign=campaign).select_related("question")
    }


def nothing_stored() -> bool:
    return not PooledResponse.objects.exists() and not Response.objects.exists()


def stored_count(campaign: Campaign) -> int:
    """How many responses are stored, in the pool or moved."""
    return campaign.pooled.count() + campaign.responses.count()
