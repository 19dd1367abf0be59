"""The OpenAPI schema, and a property-based run of every operation against it (schemathesis).

The run is bounded and reproducible (a fixed seed): the explicit examples, 20
generated cases per operation, and the coverage phase's negative cases (wrong
types, out-of-range values, missing fields, unknown parameters, no token), sent
through the WSGI app with a token schemathesis knows. Every operation must
answer without a 5xx. The ingestion operations (``STRICT``) must also answer
only documented status codes with bodies matching their schemas, and refuse
schema-violating input; schema-valid input may still be refused (an unknown
service, a timestamp before 1970), so "positive data acceptance" is off.
"""

from __future__ import annotations

from typing import get_args

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from metrics.api import api
from metrics.models import ApiToken, Deployment, PipelineRun, Review
from metrics.schemas import DeploymentStatus, PipelineRunStatus, ReviewState

pytestmark = pytest.mark.django_db

OPENAPI = "/api/v1/openapi.json"
KEY = "e360_schemathesis-only-key"
STRICT = (
    "/api/v1/deployments",
    "/api/v1/incidents",
    "/api/v1/pull-requests",
    "/api/v1/pipeline-runs",
    "/api/v1/pushes",
)

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 360,
        "auth": {"openapi": {"TokenAuth": {"bearer": KEY}}},
        "generation": {"max-examples": 20},
        "phases": {"coverage": {"unexpected-methods": ["delete"], "generation": {"mode": "negative"}}},
    }
)
# The survey results (tag "Surveys") are read with a portal session, not a token: they are fuzzed signed in, in
# surveys/tests/test_results_api.py.
schema = schemathesis.openapi.from_wsgi(OPENAPI, get_wsgi_application(), config=CONFIG).exclude(tag="Surveys")


def test_the_schema_lists_every_operation(client):
    response = client.get(OPENAPI)

    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == api.title
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    for resource in ["deployments", "incidents", "pull-requests", "pipeline-runs", "pushes"]:
        assert {
            ("POST", f"/api/v1/{resource}"),
            ("PUT", f"/api/v1/{resource}"),
            ("POST", f"/api/v1/{resource}/bulk"),
            ("GET", f"/api/v1/{resource}"),
        } <= operations
    assert ("POST", "/api/v1/incidents/{external_id}/resolve") in operations
    assert document["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}


@pytest.mark.parametrize(
    ("literal", "choices"),
    [
        (DeploymentStatus, Deployment.Status),
        (PipelineRunStatus, PipelineRun.Status),
        (ReviewState, Review.State),
    ],
)
def test_the_schemas_choices_are_the_models(literal, choices):
    assert set(get_args(literal)) == set(choices.values)


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Requests through the WSGI app would close the database connection, and the test's transaction with it.

    Django's test client disconnects the same handlers for the same reason.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def statuses(source, service, wsgi_keeps_the_test_connection):
    """The key schemathesis sends; after the run, proof that it was let in (not every answer a 401)."""
    # ``service`` is "checkout", which the schema's examples name, so they exercise real writes.
    ApiToken.objects.create(source=source, name="schemathesis", key_hash=ApiToken.hash_key(KEY), hint=KEY[-6:])
    seen: list[int] = []
    yield seen
    assert set(seen) - {401, 405}, f"every request was refused: {sorted(set(seen))}"


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case, statuses):
    if case.operation.path.startswith(STRICT):
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    else:  # Operations owned elsewhere (the metrics reads): no 5xx.
        response = case.call_and_validate(checks=[not_a_server_error])
    statuses.append(response.status_code)
