from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from e360.tests.factories import ServiceFactory
from metrics.models import ApiToken, Deployment, Incident, PipelineRun, PullRequest, Repository, Source
from metrics.services import api_token_create

BASE_TIME = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = Source.Kind.API


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A token made the way the product makes them; the clear key is on ``token.key``."""

    class Meta:
        model = ApiToken

    source = factory.SubFactory(SourceFactory)
    name = factory.Sequence(lambda n: f"token-{n}")

    @classmethod
    def _create(cls, model_class, *, source, name, **kwargs):
        token, key = api_token_create(source=source, name=name)
        if kwargs:
            ApiToken.objects.filter(pk=token.pk).update(**kwargs)
            token.refresh_from_db()
        token.key = key
        return token


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"acme/repo-{n}")
    service = factory.SubFactory(ServiceFactory)


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    source = factory.SubFactory(SourceFactory)
    external_id = factory.Sequence(lambda n: f"deploy-{n}")
    service = factory.SubFactory(ServiceFactory)
    environment = "production"
    is_production = factory.LazyAttribute(lambda o: o.service.is_production(o.environment))
    status = Deployment.Status.SUCCESS
    finished_at = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))
    started_at = factory.LazyAttribute(lambda o: o.finished_at - timedelta(minutes=5))


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    source = factory.SubFactory(SourceFactory)
    external_id = factory.Sequence(lambda n: f"INC-{n}")
    service = factory.SubFactory(ServiceFactory)
    title = factory.Sequence(lambda n: f"Incident {n}")
    started_at = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))


class PullRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PullRequest

    source = factory.SubFactory(SourceFactory)
    external_id = factory.Sequence(lambda n: f"pr-{n}")
    service = factory.SubFactory(ServiceFactory)
    repository = factory.SubFactory(RepositoryFactory, service=factory.SelfAttribute("..service"))
    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Change {n}")
    author = "ada"
    opened_at = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))


class PipelineRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PipelineRun

    source = factory.SubFactory(SourceFactory)
    external_id = factory.Sequence(lambda n: f"run-{n}")
    service = factory.SubFactory(ServiceFactory)
    workflow = "ci"
    branch = "main"
    status = PipelineRun.Status.SUCCESS
    finished_at = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))
    started_at = factory.LazyAttribute(lambda o: o.finished_at - timedelta(minutes=8) if o.finished_at else None)
    duration_seconds = factory.LazyAttribute(lambda o: 480 if o.finished_at else None)
