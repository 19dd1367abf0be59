"""Pull requests, with their reviews and commits, through the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.models import Commit, PullRequest, Review
from metrics.tests.factories import PullRequestFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/pull-requests"


def pull_request(**fields) -> dict:
    return {
        "external_id": "pr-1412",
        "repository": "acme/checkout",
        "number": 1412,
        "title": "Retry card authorisation once",
        "author": "ada",
        "base_branch": "main",
        "opened_at": "2025-04-30T09:00:00Z",
        "merged_at": "2025-05-01T10:30:00Z",
        "merge_sha": "9fceb02",
        "additions": 42,
        "deletions": 7,
        "reviews": [
            {"external_id": "r-1", "author": "grace", "state": "commented", "submitted_at": "2025-04-30T11:00:00Z"},
            {"external_id": "r-2", "author": "grace", "state": "approved", "submitted_at": "2025-04-30T15:00:00Z"},
        ],
        "commits": [
            {"sha": "1b2c3d4", "authored_at": "2025-04-30T08:40:00Z"},
            {"sha": "5e6f7a8", "authored_at": "2025-04-30T08:50:00Z"},
        ],
        **fields,
    }


def post(client, body, url=URL):
    return client.post(url, body, content_type="application/json")


def errors(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.content
    return [(error["loc"], error["msg"]) for error in response.json()["detail"]]


def test_it_creates_a_pull_request_with_reviews_and_commits(api_client, source, service):
    response = post(api_client, pull_request())

    assert response.status_code == 201
    body = response.json()
    assert body["service"] == "checkout"  # from the repository
    assert body["repository"] == "acme/checkout"
    assert body["first_commit_at"] == "2025-04-30T08:40:00Z"
    assert body["first_review_at"] == "2025-04-30T11:00:00Z"
    assert body["approved_at"] == "2025-04-30T15:00:00Z"
    assert [r["external_id"] for r in body["reviews"]] == ["r-1", "r-2"]
    assert body["reviews"][1] == {
        "external_id": "r-2",
        "author": "grace",
        "state": "approved",
        "submitted_at": "2025-04-30T15:00:00Z",
    }
    assert sorted(c["sha"] for c in body["commits"]) == ["1b2c3d4", "5e6f7a8"]
    assert PullRequest.objects.get().source == source


def test_replaying_the_same_payload_keeps_one_of_each(api_client):
    assert [post(api_client, pull_request()).status_code for _ in range(2)] == [201, 200]

    assert PullRequest.objects.count() == 1
    assert Review.objects.count() == 2
    assert Commit.objects.count() == 2


def test_an_update_adds_new_reviews(api_client):
    post(api_client, pull_request(merged_at=None, reviews=[]))

    response = post(api_client, pull_request())

    assert response.status_code == 200
    assert len(response.json()["reviews"]) == 2
    assert PullRequest.objects.get().merged_at == datetime(2025, 5, 1, 10, 30, tzinfo=UTC)


def test_it_validates_nested_reviews_and_commits(api_client):
    body = pull_request(
        reviews=[{"external_id": "r-1", "author": "", "state": "lgtm", "submitted_at": "2025-04-30T11:00:00"}],
        commits=[{"sha": "", "authored_at": "2025-04-30T08:40:00Z"}],
    )

    found = {tuple(loc) for loc, _ in errors(post(api_client, body))}

    assert found == {
        ("body", "reviews", 0, "author"),
        ("body", "reviews", 0, "state"),
        ("body", "reviews", 0, "submitted_at"),
        ("body", "commits", 0, "sha"),
    }


def test_it_rejects_a_merge_before_the_opening(api_client):
    assert errors(post(api_client, pull_request(merged_at="2025-04-29T00:00:00Z"))) == [
        (["body", "merged_at"], "must not be before opened_at")
    ]


def test_it_rejects_out_of_range_numbers(api_client):
    found = {tuple(loc) for loc, _ in errors(post(api_client, pull_request(number=0, additions=-1, deletions=2**31)))}

    assert found == {("body", "number"), ("body", "additions"), ("body", "deletions")}


def test_a_size_not_sent_is_unknown_not_zero(api_client):
    body = pull_request()
    del body["additions"], body["deletions"]
    response = post(api_client, body)

    assert response.status_code == 201
    assert (response.json()["additions"], response.json()["deletions"]) == (None, None)
    assert PullRequest.objects.get().size is None


def test_an_explicit_null_size_is_unknown_too(api_client):
    response = post(api_client, pull_request(additions=None, deletions=None))

    assert response.status_code == 201
    assert PullRequest.objects.get().size is None


def test_a_size_of_zero_lines_is_kept(api_client):
    assert post(api_client, pull_request(additions=0, deletions=0)).status_code == 201
    assert PullRequest.objects.get().size == 0


def test_it_rejects_half_a_size(api_client):
    body = pull_request()
    del body["deletions"]

    assert errors(post(api_client, body)) == [
        (
            ["body", "deletions"],
            "send additions and deletions together, or neither when the size is unknown",
        )
    ]
    assert errors(post(api_client, pull_request(additions=None)))[0][0] == ["body", "deletions"]
    assert not PullRequest.objects.exists()


def test_it_rejects_a_repository_of_no_known_service(api_client):
    [(loc, msg)] = errors(post(api_client, pull_request(repository="acme/unknown")))

    assert loc == ["body"]
    assert "acme/unknown" in msg
    assert not PullRequest.objects.exists()


def test_bulk_is_all_or_nothing(api_client):
    items = [pull_request(external_id=f"pr-{i}", number=i + 1) for i in range(4)]
    items[2]["repository"] = "acme/unknown"

    assert errors(post(api_client, items, url=f"{URL}/bulk"))[0][0] == ["body", 2]
    assert not PullRequest.objects.exists()
    assert not Review.objects.exists()
    assert not Commit.objects.exists()


def test_bulk_writes_them_all(api_client):
    items = [pull_request(external_id=f"pr-{i}", number=i + 1, commits=[]) for i in range(4)]

    response = post(api_client, items, url=f"{URL}/bulk")

    assert response.json()["created"] == 4
    assert Review.objects.count() == 8


def test_bulk_updates_reviews_and_commits_in_place(api_client):
    post(api_client, [pull_request()], url=f"{URL}/bulk")
    reviews = [
        {"external_id": "r-1", "author": "grace", "state": "approved", "submitted_at": "2025-04-30T10:00:00Z"},
        {"external_id": "r-3", "author": "alan", "state": "commented", "submitted_at": "2025-04-30T12:00:00Z"},
    ]

    response = post(api_client, [pull_request(reviews=reviews)], url=f"{URL}/bulk")

    assert response.json()["updated"] == 1
    assert sorted(Review.objects.values_list("external_id", "state")) == [
        ("r-1", "approved"),
        ("r-2", "approved"),
        ("r-3", "commented"),
    ]
    assert PullRequest.objects.get().approved_at == datetime(2025, 4, 30, 10, tzinfo=UTC)
    assert Commit.objects.count() == 2


@pytest.mark.parametrize("size", [2, 50])
def test_bulk_queries_do_not_grow_with_items(api_client, size, django_assert_max_num_queries):
    items = [pull_request(external_id=f"pr-{i}", number=i + 1) for i in range(size)]

    # The token and its last use, the service found by its repository, the repository created,
    # the author, the commits of other sources' pull requests, existing ids, the upsert, the ids,
    # reviews, commits, the source's last event (and savepoints): as many for 2 items as for 50.
    with django_assert_max_num_queries(18):
        response = post(api_client, items, url=f"{URL}/bulk")

    assert response.json()["created"] == size
    assert Review.objects.count() == 2 * size


def test_the_list_filters_and_is_newest_first(api_client, source, service):
    start = datetime(2025, 5, 1, tzinfo=UTC)
    PullRequestFactory(source=source, service=service, external_id="open", opened_at=start + timedelta(days=2))
    PullRequestFactory(
        source=source, service=service, external_id="merged", opened_at=start, merged_at=start + timedelta(hours=3)
    )
    PullRequestFactory(source=SourceFactory(name="elsewhere"), service=service, external_id="theirs")

    def ids(**params):
        return [pr["external_id"] for pr in api_client.get(URL, params).json()["items"]]

    assert ids() == ["open", "merged"]
    assert ids(merged="true") == ["merged"]
    assert ids(merged="false") == ["open"]
    assert ids(since="2025-05-02T00:00:00Z") == ["open"]
    assert ids(service="checkout", repository="acme/nothing") == []


@pytest.mark.parametrize("rows", [2, 30])
def test_the_list_queries_do_not_grow_with_rows(api_client, source, service, rows, django_assert_max_num_queries):
    for pr in PullRequestFactory.create_batch(rows, source=source, service=service):
        pr.reviews.create(external_id="r", author="grace", submitted_at=pr.opened_at)
    api_client.get(URL)

    # The token, the count, the page, its reviews, its commits.
    with django_assert_max_num_queries(5):
        response = api_client.get(URL, {"limit": 500})

    assert all(len(pr["reviews"]) == 1 for pr in response.json()["items"])
