"""The JSON API at ``/api/v1/``: token auth, upserts and lists of delivery data.

- Every request carries ``Authorization: Bearer <key>`` (``manage.py
  create_api_token``). The token belongs to a source: writes are stored under
  it, and reads see only its records.
- Writes are idempotent on ``external_id`` (201 created, 200 updated). A bulk
  write is all or nothing: one bad item rolls the whole request back, and the
  error names the item's index. Every write queues the background refresh of
  the services it touched once it commits (``Dirty.schedule``).
- Errors are JSON ``{"detail": ...}``: a message, or for bad input (422) a list
  of ``{"loc", "msg", "type"}``, one per field.
- The OpenAPI schema is at ``openapi.json``; ``docs`` shows it with Swagger UI
  served from ``static/vendor/swagger-ui/`` (no CDN; strict-CSP safe).
"""

# No ``from __future__ import annotations`` here: ninja reads the views' annotations at import
# time, and under ``@paginate`` it would resolve the strings in ninja's module, not this one.
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.db.models import F, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import Body, Field, NinjaAPI, Query, Router, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import DocsBase
from ninja.operation import Operation
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.responses import Status
from ninja.security import HttpBearer

from metrics.api_metrics import router as metrics_router
from metrics.models import ApiToken, Deployment, Incident, PipelineRun, PullRequest, Push, Source
from metrics.schemas import (
    MAX_BULK_ITEMS,
    MAX_LIST_LIMIT,
    MAX_LIST_OFFSET,
    BulkOut,
    DeploymentFilters,
    DeploymentIn,
    DeploymentOut,
    ErrorOut,
    ExternalId,
    In,
    IncidentFilters,
    IncidentIn,
    IncidentOut,
    IncidentResolveIn,
    PipelineRunFilters,
    PipelineRunIn,
    PipelineRunOut,
    PullRequestFilters,
    PullRequestIn,
    PullRequestOut,
    PushFilters,
    PushIn,
    PushOut,
    ValidationErrorOut,
)
from metrics.services import (
    Dirty,
    OutOfScope,
    UnknownService,
    api_token_authenticate,
    deployment_upsert,
    deployments_upsert,
    incident_upsert,
    incidents_upsert,
    pipeline_run_upsert,
    pipeline_runs_upsert,
    pull_request_upsert,
    pull_requests_upsert,
    push_upsert,
    pushes_upsert,
)
from metrics.services import incident_resolve as incident_resolve_service
from metrics.storable import LONE_SURROGATE


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <key>``; ``request.auth`` is the :class:`ApiToken`."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return api_token_authenticate(token)


class SwaggerDocs(DocsBase):
    """Swagger UI from the vendored copy, started by a static script, so it runs under the site's CSP."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        swagger_settings = {
            "url": self.get_openapi_url(api, kwargs),
            "dom_id": "#swagger-ui",
            # Deep links would put a link inside each operation's expand button (nested interactive controls,
            # which screen readers cannot reach); without them the path is plain text.
            "deepLinking": False,
            "layout": "BaseLayout",
            # The default validator badge is an image from swagger.io: blocked by the CSP, and a leak.
            "validatorUrl": None,
            "persistAuthorization": False,
        }
        return render(request, "metrics/api_docs.html", {"api": api, "swagger_settings": swagger_settings})


class Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # "deployment_create" rather than ninja's module-prefixed "metrics_api_deployment_create".
        return operation.view_func.__name__


api = Api(
    title="e360 API",
    version="1",
    description=(
        "Send deployments, incidents, pull requests, pipeline runs and pushes; read them back.\n\n"
        "Authenticate with `Authorization: Bearer <key>` (`manage.py create_api_token`). "
        "Writes are idempotent on `external_id`: 201 when created, 200 when updated. "
        "Bulk endpoints take up to 1000 items and are all or nothing. "
        "Timestamps are ISO 8601 with a time zone, e.g. `2025-05-01T12:00:00Z`."
    ),
    urls_namespace="api-v1",
    auth=TokenAuth(),
    docs=SwaggerDocs(),
)


# --- Errors -----------------------------------------------------------------------------------


class Rejected(Exception):
    """Input the schema accepted but the data does not (e.g. an unknown service): a 422 listing the errors."""

    status = 422

    def __init__(self, *errors: dict) -> None:
        super().__init__(errors)
        self.errors = list(errors)


class Forbidden(Rejected):
    """A record outside the source's scope (``OutOfScope``): a 403 listing it, in the 422's shape."""

    status = 403


def _error(msg: str, loc: Sequence[str | int] = ("body",), type: str = "value_error") -> dict:
    return {"loc": list(loc), "msg": msg, "type": type}


# The names of the views' body parameters, which ninja puts in "loc" though no client sends them.
BODY_PARAMS = {"payload", "items"}
MESSAGES = {
    "timezone_aware": "must include a time zone, e.g. 2025-05-01T12:00:00Z or 2025-05-01T14:00:00+02:00",
    "string_unicode": LONE_SURROGATE,
}

WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ValidationErrorOut, 413: ErrorOut, 422: ValidationErrorOut}
READ_ERRORS = {401: ErrorOut, 422: ValidationErrorOut}


def _detail(request: HttpRequest, status: int, detail: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        loc = list(error.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body" and loc[1] in BODY_PARAMS:
            del loc[1]
        msg = MESSAGES.get(error.get("type", ""), str(error.get("msg", "invalid")))
        if loc == ["body"] and error.get("type") == "missing":
            msg = "The body is empty: send JSON."
        errors.append({"loc": loc, "msg": msg.removeprefix("Value error, "), "type": error.get("type", "invalid")})
    return _detail(request, 422, errors)


@api.exception_handler(Rejected)
def _rejected(request: HttpRequest, exc: Rejected) -> HttpResponse:
    return _detail(request, exc.status, exc.errors)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _detail(request, 401, "Missing, unknown or revoked API token: send Authorization: Bearer <key>.")
    response["WWW-Authenticate"] = 'Bearer realm="e360"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja raises HttpError(400) from the JSON parser's error; its text says where the body breaks.
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        return _detail(request, 400, f"The body is not valid JSON: {exc.__cause__}")
    return _detail(request, exc.status_code, str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _detail(request, 413, f"The body is larger than {limit} bytes: send fewer items per request.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _detail(request, 404, str(exc) or "Not found.")


# --- Writes -----------------------------------------------------------------------------------


class Upsert(Protocol):
    def __call__(self, *, source: Source, data: Any, dirty: Dirty) -> tuple[Model, bool]: ...


class UpsertMany(Protocol):
    def __call__(self, *, source: Source, items: Sequence[Any], dirty: Dirty) -> list[bool]: ...


def _source(request: HttpRequest) -> Source:
    return request.auth.source  # type: ignore[attr-defined]  # TokenAuth's ApiToken, which ninja sets


def _refusal(exc: UnknownService, loc: Sequence[str | int]) -> Rejected:
    if isinstance(exc, OutOfScope):
        return Forbidden(_error(str(exc), loc, "out_of_scope"))
    return Rejected(_error(str(exc), loc, "unknown_service"))


def _write_one(request: HttpRequest, upsert: Upsert, payload: In) -> Status:
    with transaction.atomic():
        dirty = Dirty()
        try:
            record, created = upsert(source=_source(request), data=payload.to_input(), dirty=dirty)
        except UnknownService as exc:
            raise _refusal(exc, ("body",)) from exc
        dirty.schedule()
    return Status(201 if created else 200, record)


def _write_many(
    request: HttpRequest,
    upsert: UpsertMany,
    items: Sequence[DeploymentIn | IncidentIn | PullRequestIn | PipelineRunIn | PushIn],
) -> dict:
    with transaction.atomic():
        dirty = Dirty()
        try:
            created = upsert(source=_source(request), items=[item.to_input() for item in items], dirty=dirty)
        except UnknownService as exc:
            # Raised inside the atomic block: nothing of this request is kept.
            raise _refusal(exc, ("body", exc.index or 0)) from exc
        dirty.schedule()
    results = [{"external_id": item.external_id, "created": new} for item, new in zip(items, created, strict=True)]
    return {"created": sum(created), "updated": len(created) - sum(created), "items": results}


# Bulk bodies: arrays of at most 1000 items (OpenAPI shows the bound, pydantic enforces it). ninja's
# ``Body[type, {options}]`` is a run-time form; a type checker reads the type.
if TYPE_CHECKING:
    BulkDeployments = list[DeploymentIn]
    BulkIncidents = list[IncidentIn]
    BulkPullRequests = list[PullRequestIn]
    BulkPipelineRuns = list[PipelineRunIn]
    BulkPushes = list[PushIn]
else:
    BulkDeployments = Body[list[DeploymentIn], {"max_length": MAX_BULK_ITEMS}]
    BulkIncidents = Body[list[IncidentIn], {"max_length": MAX_BULK_ITEMS}]
    BulkPullRequests = Body[list[PullRequestIn], {"max_length": MAX_BULK_ITEMS}]
    BulkPipelineRuns = Body[list[PipelineRunIn], {"max_length": MAX_BULK_ITEMS}]
    BulkPushes = Body[list[PushIn], {"max_length": MAX_BULK_ITEMS}]


# --- Reads ------------------------------------------------------------------------------------


class Pagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(100, ge=1, le=MAX_LIST_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_LIST_OFFSET)


def _known_parameters_only(request: HttpRequest, filters: type[Schema]) -> None:
    """Refuse query parameters the list does not know: a misspelt filter would silently match everything."""
    known = filters.model_fields.keys() | Pagination.Input.model_fields.keys()
    unknown = [name for name in request.GET if name not in known]
    if unknown:
        raise Rejected(*(_error("unknown query parameter", ("query", name), "unknown_parameter") for name in unknown))


def _in_window(queryset: QuerySet, field: str, since: Any, until: Any) -> QuerySet:
    if since is not None:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until is not None:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


def _optional[Q: QuerySet[Any]](queryset: Q, **lookups: Any) -> Q:
    """Filter on the lookups whose value was given (not None)."""
    given = {key: value for key, value in lookups.items() if value is not None}
    return queryset.filter(**given) if given else queryset


# --- Deployments ------------------------------------------------------------------------------

deployments = Router(tags=["Deployments"])


@deployments.post(
    "", response={200: DeploymentOut, 201: DeploymentOut, **WRITE_ERRORS}, summary="Create or update a deployment"
)
def deployment_create(request: HttpRequest, payload: DeploymentIn) -> Status:
    """Create or update one deployment (idempotent on `external_id`)."""
    return _write_one(request, deployment_upsert, payload)


@deployments.put(
    "", response={200: DeploymentOut, 201: DeploymentOut, **WRITE_ERRORS}, summary="Create or update a deployment (PUT)"
)
def deployment_put(request: HttpRequest, payload: DeploymentIn) -> Status:
    """The same as POST: create or update one deployment."""
    return _write_one(request, deployment_upsert, payload)


@deployments.post("/bulk", response={200: BulkOut, **WRITE_ERRORS}, summary="Create or update deployments in bulk")
def deployment_bulk(request: HttpRequest, items: BulkDeployments) -> dict:
    """Create or update up to 1000 deployments, all or nothing."""
    return _write_many(request, deployments_upsert, items)


@deployments.get("", response={200: list[DeploymentOut], **READ_ERRORS}, summary="List deployments")
@paginate(Pagination)
def deployment_list(request: HttpRequest, filters: Query[DeploymentFilters]) -> QuerySet:
    """This source's deployments, newest (by `finished_at`) first."""
    _known_parameters_only(request, DeploymentFilters)
    queryset = Deployment.objects.filter(source=_source(request)).select_related("service", "repository")
    queryset = _optional(
        queryset,
        service__slug=filters.service,
        environment=filters.environment,
        status=filters.status,
        is_production=filters.is_production,
    )
    return _in_window(queryset, "finished_at", filters.since, filters.until).order_by("-finished_at", "-id")


# --- Incidents --------------------------------------------------------------------------------

incidents = Router(tags=["Incidents"])


@incidents.post(
    "", response={200: IncidentOut, 201: IncidentOut, **WRITE_ERRORS}, summary="Create or update an incident"
)
def incident_create(request: HttpRequest, payload: IncidentIn) -> Status:
    """Create or update one incident (idempotent on `external_id`)."""
    return _write_one(request, incident_upsert, payload)


@incidents.put(
    "", response={200: IncidentOut, 201: IncidentOut, **WRITE_ERRORS}, summary="Create or update an incident (PUT)"
)
def incident_put(request: HttpRequest, payload: IncidentIn) -> Status:
    """The same as POST: create or update one incident."""
    return _write_one(request, incident_upsert, payload)


@incidents.post("/bulk", response={200: BulkOut, **WRITE_ERRORS}, summary="Create or update incidents in bulk")
def incident_bulk(request: HttpRequest, items: BulkIncidents) -> dict:
    """Create or update up to 1000 incidents, all or nothing."""
    return _write_many(request, incidents_upsert, items)


@incidents.post(
    "/{external_id}/resolve", response={200: IncidentOut, 404: ErrorOut, **WRITE_ERRORS}, summary="Resolve an incident"
)
def incident_resolve(request: HttpRequest, external_id: ExternalId, payload: IncidentResolveIn) -> Incident:
    """Mark one of this source's incidents resolved at `resolved_at`."""
    source = _source(request)
    with transaction.atomic():
        dirty = Dirty()
        try:
            incident = incident_resolve_service(
                source=source, external_id=external_id, resolved_at=payload.resolved_at, dirty=dirty
            )
        except Incident.DoesNotExist as exc:
            raise Http404(f'This source has no incident "{external_id}".') from exc
        if payload.resolved_at < incident.started_at:
            raise Rejected(_error("must not be before the incident's started_at", ("body", "resolved_at")))
        dirty.schedule()
    return incident


@incidents.get("", response={200: list[IncidentOut], **READ_ERRORS}, summary="List incidents")
@paginate(Pagination)
def incident_list(request: HttpRequest, filters: Query[IncidentFilters]) -> QuerySet:
    """This source's incidents, newest (by `started_at`) first."""
    _known_parameters_only(request, IncidentFilters)
    queryset = Incident.objects.filter(source=_source(request)).select_related("service", "caused_by")
    queryset = _optional(
        queryset,
        service__slug=filters.service,
        resolved_at__isnull=None if filters.resolved is None else not filters.resolved,
    )
    return _in_window(queryset, "started_at", filters.since, filters.until).order_by("-started_at", "-id")


# --- Pull requests ----------------------------------------------------------------------------

pull_requests = Router(tags=["Pull requests"])


@pull_requests.post(
    "", response={200: PullRequestOut, 201: PullRequestOut, **WRITE_ERRORS}, summary="Create or update a pull request"
)
def pull_request_create(request: HttpRequest, payload: PullRequestIn) -> Status:
    """Create or update one pull request with its reviews and commits (idempotent on `external_id`)."""
    return _write_one(request, pull_request_upsert, payload)


@pull_requests.put(
    "",
    response={200: PullRequestOut, 201: PullRequestOut, **WRITE_ERRORS},
    summary="Create or update a pull request (PUT)",
)
def pull_request_put(request: HttpRequest, payload: PullRequestIn) -> Status:
    """The same as POST: create or update one pull request."""
    return _write_one(request, pull_request_upsert, payload)


@pull_requests.post("/bulk", response={200: BulkOut, **WRITE_ERRORS}, summary="Create or update pull requests in bulk")
def pull_request_bulk(request: HttpRequest, items: BulkPullRequests) -> dict:
    """Create or update up to 1000 pull requests, all or nothing."""
    return _write_many(request, pull_requests_upsert, items)


@pull_requests.get("", response={200: list[PullRequestOut], **READ_ERRORS}, summary="List pull requests")
@paginate(Pagination)
def pull_request_list(request: HttpRequest, filters: Query[PullRequestFilters]) -> QuerySet:
    """This source's pull requests, newest (by `opened_at`) first."""
    _known_parameters_only(request, PullRequestFilters)
    queryset = (
        PullRequest.objects.filter(source=_source(request))
        .select_related("service", "repository")
        .prefetch_related("reviews", "commits")
    )
    queryset = _optional(
        queryset,
        service__slug=filters.service,
        repository__name=filters.repository,
        merged_at__isnull=None if filters.merged is None else not filters.merged,
    )
    return _in_window(queryset, "opened_at", filters.since, filters.until).order_by("-opened_at", "-id")


# --- Pipeline runs ----------------------------------------------------------------------------

pipeline_runs = Router(tags=["Pipeline runs"])


@pipeline_runs.post(
    "", response={200: PipelineRunOut, 201: PipelineRunOut, **WRITE_ERRORS}, summary="Create or update a pipeline run"
)
def pipeline_run_create(request: HttpRequest, payload: PipelineRunIn) -> Status:
    """Create or update one pipeline run (idempotent on `external_id`)."""
    return _write_one(request, pipeline_run_upsert, payload)


@pipeline_runs.put(
    "",
    response={200: PipelineRunOut, 201: PipelineRunOut, **WRITE_ERRORS},
    summary="Create or update a pipeline run (PUT)",
)
def pipeline_run_put(request: HttpRequest, payload: PipelineRunIn) -> Status:
    """The same as POST: create or update one pipeline run."""
    return _write_one(request, pipeline_run_upsert, payload)


@pipeline_runs.post("/bulk", response={200: BulkOut, **WRITE_ERRORS}, summary="Create or update pipeline runs in bulk")
def pipeline_run_bulk(request: HttpRequest, items: BulkPipelineRuns) -> dict:
    """Create or update up to 1000 pipeline runs, all or nothing."""
    return _write_many(request, pipeline_runs_upsert, items)


@pipeline_runs.get("", response={200: list[PipelineRunOut], **READ_ERRORS}, summary="List pipeline runs")
@paginate(Pagination)
def pipeline_run_list(request: HttpRequest, filters: Query[PipelineRunFilters]) -> QuerySet:
    """This source's pipeline runs: unfinished ones first, then newest (by `finished_at`) first."""
    _known_parameters_only(request, PipelineRunFilters)
    queryset = PipelineRun.objects.filter(source=_source(request)).select_related("service", "repository")
    queryset = _optional(
        queryset,
        service__slug=filters.service,
        workflow=filters.workflow,
        branch=filters.branch,
        status=filters.status,
    )
    queryset = _in_window(queryset, "finished_at", filters.since, filters.until)
    # Explicit NULL placement: PostgreSQL and SQLite disagree on it by default.
    return queryset.order_by(F("finished_at").desc(nulls_first=True), "-id")


# --- Pushes -----------------------------------------------------------------------------------

pushes = Router(tags=["Pushes"])


@pushes.post("", response={200: PushOut, 201: PushOut, **WRITE_ERRORS}, summary="Create or update a push")
def push_create(request: HttpRequest, payload: PushIn) -> Status:
    """Create or update one push to a branch (idempotent on `external_id`): GitHub's push event,
    whose chain of `before` → `after` gives the commits between two deployments."""
    return _write_one(request, push_upsert, payload)


@pushes.put("", response={200: PushOut, 201: PushOut, **WRITE_ERRORS}, summary="Create or update a push (PUT)")
def push_put(request: HttpRequest, payload: PushIn) -> Status:
    """The same as POST: create or update one push."""
    return _write_one(request, push_upsert, payload)


@pushes.post("/bulk", response={200: BulkOut, **WRITE_ERRORS}, summary="Create or update pushes in bulk")
def push_bulk(request: HttpRequest, items: BulkPushes) -> dict:
    """Create or update up to 1000 pushes, all or nothing."""
    return _write_many(request, pushes_upsert, items)


@pushes.get("", response={200: list[PushOut], **READ_ERRORS}, summary="List pushes")
@paginate(Pagination)
def push_list(request: HttpRequest, filters: Query[PushFilters]) -> QuerySet:
    """This source's pushes, newest (by `pushed_at`) first, then those without a time."""
    _known_parameters_only(request, PushFilters)
    queryset = Push.objects.filter(source=_source(request)).select_related("service", "repository")
    queryset = _optional(
        queryset,
        service__slug=filters.service,
        repository__name=filters.repository,
        branch=filters.branch,
    )
    queryset = _in_window(queryset, "pushed_at", filters.since, filters.until)
    # Explicit NULL placement: PostgreSQL and SQLite disagree on it by default.
    return queryset.order_by(F("pushed_at").desc(nulls_last=True), "-id")


api.add_router("/deployments", deployments)
api.add_router("/incidents", incidents)
api.add_router("/pull-requests", pull_requests)
api.add_router("/pipeline-runs", pipeline_runs)
api.add_router("/pushes", pushes)
api.add_router("/metrics", metrics_router)
