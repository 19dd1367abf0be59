"""An SMTP server on loopback for the email sender, through Django's SMTP backend: the subset of
RFC 5321 a client without TLS or authentication speaks (``EHLO``/``HELO``, ``MAIL FROM``, ``RCPT TO``,
``DATA`` with dot-stuffing, ``RSET``, ``NOOP``, ``QUIT``), on ``socketserver`` (``aiosmtpd`` is not in
the environment). Addresses in ``refused`` get 550 at ``RCPT``; ``reject_data`` answers ``DATA``'s
end with 554; ``delay`` holds the greeting back (a server that hangs).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socketserver
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest


class FakeSmtp:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []  # (sender, recipients, message)
        self.refused: set[str] = set()
        self.reject_data = False
        self.delay = 0.0
        self.port = 0
        self.lock = threading.Lock()


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        fake = self.server.fake
        if fake.delay:
            time.sleep(fake.delay)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self._session(fake)

    def _session(self, fake: FakeSmtp) -> None:
        self.reply("220 localhost ESMTP fake")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250-8BITMIME")
                self.reply("250 SMTPUTF8")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, recipients = command.partition(":")[2].strip().split()[0].strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.partition(":")[2].strip().split()[0].strip("<>")
                if address.lower() in fake.refused:
                    self.reply("550 5.1.1 No such user here")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                if not recipients:
                    self.reply("503 5.5.1 No valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                if fake.reject_data:
                    self.reply("554 5.7.1 Message rejected as spam")
                    continue
                parsed = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                with fake.lock:
                    fake.messages.append((sender, recipients, parsed))  # type: ignore[arg-type]
                self.reply("250 OK queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognised")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSmtp) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@pytest.fixture
def fake_smtp(settings) -> Iterator[FakeSmtp]:
    """The loopback SMTP server, and Django's SMTP backend pointed at it."""
    fake = FakeSmtp()
    server = _Server(fake)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": fake.port, "use_tls": False, "timeout": 2},
        }
    }
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
