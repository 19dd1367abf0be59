from __future__ import annotations

import factory

from integrations.models import Connection
from metrics.models import Source
from metrics.tests.factories import SourceFactory


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A connection with its source; ``webhook_secret`` is the clear secret the tests sign with."""

    class Meta:
        model = Connection

    source = factory.SubFactory(SourceFactory, kind=Source.Kind.GITHUB)
    webhook_secret = "It's a Secret to Everybody"
