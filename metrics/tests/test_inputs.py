"""The input types (``metrics.inputs``): every way in produces them, with one name per field.

The JSON API's schemas declare the same fields with the same defaults and build them without a
field-by-field copy; the models store each field under the same name; the API answers with it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from django.db import models

from metrics import inputs, schemas
from metrics.models import Commit, Deployment, Incident, PipelineRun, PullRequest, Push, Review

IN_SCHEMAS = [
    schemas.DeploymentIn,
    schemas.IncidentIn,
    schemas.ReviewIn,
    schemas.CommitIn,
    schemas.PullRequestIn,
    schemas.PipelineRunIn,
    schemas.PushIn,
]
STORED_AS = {
    inputs.DeploymentInput: Deployment,
    inputs.IncidentInput: Incident,
    inputs.ReviewInput: Review,
    inputs.CommitInput: Commit,
    inputs.PullRequestInput: PullRequest,
    inputs.PipelineRunInput: PipelineRun,
    inputs.PushInput: Push,
}
ANSWERED_AS = {
    schemas.DeploymentIn: schemas.DeploymentOut,
    schemas.IncidentIn: schemas.IncidentOut,
    schemas.ReviewIn: schemas.ReviewOut,
    schemas.CommitIn: schemas.CommitOut,
    schemas.PullRequestIn: schemas.PullRequestOut,
    schemas.PipelineRunIn: schemas.PipelineRunOut,
    schemas.PushIn: schemas.PushOut,
}
# An incident's repository only finds its service: it is not stored, nor answered.
ONLY_FINDS_THE_SERVICE = {(inputs.IncidentInput, "repository"), (schemas.IncidentIn, "repository")}
AT = datetime(2025, 5, 1, 12, tzinfo=UTC)


def _default(field: dataclasses.Field) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    return dataclasses.MISSING


@pytest.mark.parametrize("schema", IN_SCHEMAS, ids=lambda schema: schema.__name__)
def test_each_input_schema_declares_its_input_types_fields_and_defaults(schema):
    declared = {f.name: _default(f) for f in dataclasses.fields(schema.input_type)}
    sent = {
        name: (schemas._input_value(field.default) if not field.is_required() else dataclasses.MISSING)
        for name, field in schema.model_fields.items()
    }

    assert sent == declared


@pytest.mark.parametrize("input_type", list(STORED_AS), ids=lambda t: t.__name__)
def test_each_field_is_stored_under_its_own_name(input_type):
    model = STORED_AS[input_type]
    for field in dataclasses.fields(input_type):
        if (input_type, field.name) in ONLY_FINDS_THE_SERVICE:
            continue
        stored = model._meta.get_field(field.name)  # a column, or the relation that holds the items
        if field.name in ("service", "repository", "caused_by"):
            assert isinstance(stored, models.ForeignKey), field.name


@pytest.mark.parametrize("schema", IN_SCHEMAS, ids=lambda schema: schema.__name__)
def test_the_api_answers_with_the_names_it_takes(schema):
    taken = {name for name in schema.model_fields if (schema, name) not in ONLY_FINDS_THE_SERVICE}

    assert taken <= set(ANSWERED_AS[schema].model_fields)


def test_a_schema_builds_its_input_nested_inputs_and_tuples_included():
    body = {
        "external_id": "pr-1",
        "repository": "acme/checkout",
        "author": "ada",
        "opened_at": "2025-05-01T12:00:00Z",
        "reviews": [{"external_id": "r-1", "author": "grace", "submitted_at": "2025-05-01T13:00:00Z"}],
        "commits": [{"sha": "abc", "authored_at": "2025-05-01T11:00:00Z"}],
    }

    built = schemas.PullRequestIn.model_validate(body).to_input()

    assert built == inputs.PullRequestInput(
        external_id="pr-1",
        repository="acme/checkout",
        author="ada",
        opened_at=AT,
        reviews=(inputs.ReviewInput(external_id="r-1", author="grace", submitted_at=AT.replace(hour=13)),),
        commits=(inputs.CommitInput(sha="abc", authored_at=AT.replace(hour=11)),),
    )


@pytest.mark.parametrize(("sent", "changes"), [({}, None), ({"changes": []}, ()), ({"changes": ["a"]}, ("a",))])
def test_a_change_list_not_sent_stays_apart_from_an_empty_one(sent, changes):
    body = {"external_id": "d", "service": "s", "environment": "production", "finished_at": "2025-05-01T12:00:00Z"}

    built = schemas.DeploymentIn.model_validate({**body, **sent}).to_input()

    assert built == inputs.DeploymentInput(
        external_id="d", service="s", environment="production", finished_at=AT, changes=changes
    )


def test_inputs_are_immutable():
    built = inputs.PushInput(external_id="p", repository="acme/checkout", before="a", after="b")

    with pytest.raises(dataclasses.FrozenInstanceError):
        built.after = "c"  # type: ignore[misc]
