"""Email, through Django's mailer (``MAILERS`` in e360/settings.py, from ``EMAIL_*``; the console in
DEBUG): plain text and a simple HTML alternative. A message for one person goes to their catalog
email, others to the channel's addresses. The ``Message-ID`` comes from the dedupe key, so a retry
of one message is the same message to a mail client.
"""

from __future__ import annotations

import hashlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import format_html, format_html_join

from actions.channels.message import Message, Sent
from actions.channels.preview import Preview
from actions.models import Channel


def recipients(channel: Channel, message: Message) -> list[str]:
    if message.recipient is not None:
        return [message.recipient.email]
    return list(channel.addresses)


def plain(message: Message) -> str:
    lines = [message.title, ""]
    if message.text:
        lines += [message.text, ""]
    lines += [f"{fact.label}: {fact.value}" for fact in message.facts]
    if message.url:
        lines += ["", f"Open in e360: {message.url}"]
    return "\n".join(lines).strip() + "\n"


def html(message: Message) -> str:
    facts = format_html_join(
        "", '<tr><th align="left">{}</th><td>{}</td></tr>', ((f.label, f.value) for f in message.facts)
    )
    return format_html(
        "<h2>{}</h2>{}{}{}",
        message.title,
        format_html("<p>{}</p>", message.text) if message.text else "",
        format_html("<table>{}</table>", facts) if message.facts else "",
        format_html('<p><a href="{}">Open in e360</a></p>', message.url) if message.url else "",
    )


def preview(channel: Channel, message: Message) -> Preview:
    to = recipients(channel, message)
    return Preview(", ".join(to) or "(no address)", {"to": to, "subject": message.title, "text": plain(message)})


def deliver(channel: Channel, message: Message, *, dedupe_key: str) -> Sent:
    to = recipients(channel, message)
    if not to:
        return Sent.of(False, 0, "no address to send to")
    headers = {}
    if dedupe_key:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "e360"
        headers["Message-ID"] = f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:40]}@{domain}>"
    mail = EmailMultiAlternatives(subject=message.title, body=plain(message), to=to, headers=headers)
    mail.attach_alternative(html(message), "text/html")
    try:
        mail.send()
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(f"{address} ({code})" for address, (code, _) in exc.recipients.items())
        return Sent.of(False, 550, f"the mail server refused {refused}")
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Sent.of(False, exc.smtp_code, f"the mail server answered {exc.smtp_code}: {reply}")
    except (smtplib.SMTPException, OSError) as exc:
        # smtplib reports a reply that timed out as a disconnection, caused by the timeout.
        timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
        what = "did not answer in time" if timed_out else f"could not be reached ({type(exc).__name__})"
        return Sent.of(False, 0, f"the mail server {what}")
    return Sent.of(True, 250, f"sent to {', '.join(to)}")
