"""Sending notifications: a ``Message`` through a ``Channel`` (``actions.models``) with
``send(channel, message, dedupe_key=...) -> Sent``. One sender per kind: ``email``, ``slack``
(incoming webhook and bot), ``teams`` (Workflows webhook), ``webhook`` (signed HTTP), and the
outbox (``sending``)."""

from actions.channels.message import Fact, Message, Sent
from actions.channels.sending import send

__all__ = ["Fact", "Message", "Sent", "send"]
