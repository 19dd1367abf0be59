"""Secrets kept in the database, encrypted: webhook secrets, API tokens, a GitHub App's private key,
notification channels' tokens.

A webhook's signature can only be checked with the secret itself, so these cannot be hashed like
API keys (``metrics.ApiToken``). They are encrypted with Fernet (AES-128-CBC and HMAC-SHA256,
from ``cryptography``) under keys derived from Django's ``SECRET_KEY`` (HKDF, one purpose string):
rotating ``SECRET_KEY`` with the old one in ``SECRET_KEY_FALLBACKS`` keeps every secret readable,
and ``rotate`` re-encrypts a value under the new key. A database dump alone reveals none of them.
The field never shows its value in ``repr``, logs or the admin (``EncryptedTextField`` forms use
a write-only input).
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

PURPOSE = b"e360.integrations.secrets"  # where it began: changing it would make every stored secret unreadable


class SecretUnreadable(Exception):
    """A stored secret none of the keys opens: ``SECRET_KEY`` changed without its fallback."""


@cache
def _fernet(secret_keys: tuple[str, ...]) -> MultiFernet:
    keys = []
    for secret_key in secret_keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
        keys.append(Fernet(base64.urlsafe_b64encode(derived)))
    return MultiFernet(keys)


def fernet() -> MultiFernet:
    return _fernet((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret cannot be read: was SECRET_KEY changed without SECRET_KEY_FALLBACKS?"
        ) from None


def rotate(token: str) -> str:
    """The same secret, encrypted under the current ``SECRET_KEY``."""
    return fernet().rotate(token.encode()).decode() if token else ""


class Secret(str):
    """A decrypted secret: a ``str`` whose ``repr`` never shows it (tracebacks, logs, the shell)."""

    def __repr__(self) -> str:
        return "Secret('…')" if self else "Secret('')"


class EncryptedTextField(models.TextField):
    """Text stored encrypted (``encrypt``), read back as a ``Secret``; never filtered or ordered on."""

    def from_db_value(self, value: str | None, expression: object, connection: object) -> Secret:
        return Secret(decrypt(value or ""))

    def to_python(self, value: object) -> Secret:
        return value if isinstance(value, Secret) else Secret(value or "")

    def get_prep_value(self, value: object) -> str:
        return encrypt(str(value or ""))
