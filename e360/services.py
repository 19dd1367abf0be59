"""Writes to the catalog that touch several models."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from e360.models import Person, User


@transaction.atomic
def person_link_user(*, user: User, emails: Iterable[str]) -> Person | None:
    """Tie ``user`` to the unclaimed person whose email is one of ``emails``.

    Emails must already be trusted (verified by the provider or typed by an
    admin). A user already linked keeps their person.
    """
    existing = Person.objects.filter(user=user).first()
    if existing is not None:
        return existing
    wanted = {email.lower() for email in emails if email}
    if not wanted:
        return None
    person = (
        Person.objects.select_for_update()
        .filter(email__in=wanted, user__isnull=True, is_active=True)
        .order_by("id")
        .first()
    )
    if person is None:
        return None
    person.user = user
    person.save(update_fields=["user"])
    return person
