from __future__ import annotations

import factory

from actions.models import Channel


class ChannelFactory(factory.django.DjangoModelFactory):
    """An outbox channel unless told otherwise; ``secret`` is the clear secret."""

    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Channel {n}")
    kind = Channel.Kind.OUTBOX
