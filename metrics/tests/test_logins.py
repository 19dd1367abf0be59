"""Pull request authors and reviewers are catalog people, found by their GitHub or GitLab login."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from e360.tests.factories import PersonFactory, ServiceFactory
from metrics.inputs import PullRequestInput, ReviewInput
from metrics.models import PullRequest, Review, Source
from metrics.services import Dirty, pull_requests_upsert
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

AT = datetime(2025, 5, 1, 12, tzinfo=UTC)


def write(source: Source, author: str, reviewer: str) -> None:
    ServiceFactory(slug="checkout", repositories=["acme/checkout"])
    review = ReviewInput(external_id="r1", author=reviewer, submitted_at=AT)
    data = PullRequestInput(
        external_id="1", repository="acme/checkout", service="checkout", opened_at=AT, author=author, reviews=(review,)
    )
    pull_requests_upsert(source=source, items=[data], dirty=Dirty())


def test_a_github_sources_logins_are_github_logins():
    ada = PersonFactory(github_login="Ada", gitlab_login="grace")
    grace = PersonFactory(github_login="grace")
    write(SourceFactory(kind=Source.Kind.GITHUB, may_write_every_service=True), author="ada", reviewer="grace")
    assert PullRequest.objects.get().person == ada  # case-insensitive, as GitHub's logins are
    assert Review.objects.get().person == grace  # not Ada, whose GitLab login is also "grace"


def test_a_gitlab_sources_logins_are_gitlab_logins():
    grace = PersonFactory(github_login="someone", gitlab_login="grace")
    PersonFactory(github_login="grace")
    write(SourceFactory(kind=Source.Kind.GITLAB, may_write_every_service=True), author="nobody", reviewer="grace")
    assert PullRequest.objects.get().person is None
    assert Review.objects.get().person == grace


def test_an_api_sources_logins_are_either():
    ada = PersonFactory(gitlab_login="ada")
    write(SourceFactory(kind=Source.Kind.API, may_write_every_service=True), author="ada", reviewer="unknown")
    assert PullRequest.objects.get().person == ada
    assert Review.objects.get().person is None
