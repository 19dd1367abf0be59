"""GitLab's documented webhook payloads (``fixtures/gitlab/``) and their other states, for tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "gitlab"

# The repositories of the documented examples, named as the catalog names GitLab projects.
MR_REPOSITORY = "example.com/awesome_space/awesome_project"  # the merge request's target project
ISSUE_REPOSITORY = "example.com/gitlabhq/gitlab-test"
NOTE_REPOSITORY = "example.com/gitlab-org/gitlab-test"
PIPELINE_REPOSITORY = "192.168.64.1/gitlab-org/gitlab-test"
DEPLOYMENT_REPOSITORY = "10.126.0.2/root/test-deployment-webhooks"
PUSH_REPOSITORY = "example.com/mike/diaspora"
ALL_REPOSITORIES = [
    MR_REPOSITORY,
    ISSUE_REPOSITORY,
    NOTE_REPOSITORY,
    PIPELINE_REPOSITORY,
    DEPLOYMENT_REPOSITORY,
    PUSH_REPOSITORY,
]


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A documented payload; ``changes`` replace keys of ``object_attributes`` (or of the body when
    it has none), e.g. ``payload("merge_request", action="merge", state="merged")``."""
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    target = body.get("object_attributes", body)
    target.update(copy.deepcopy(changes))
    return body


def incident(**changes: Any) -> dict[str, Any]:
    return payload("issue", type="Incident", **changes)


def with_user(body: dict[str, Any], **user: Any) -> dict[str, Any]:
    body["user"] = {**body.get("user", {}), **user}
    return body
