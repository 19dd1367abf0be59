from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from e360 import env

ROOT = Path(__file__).resolve().parents[2]


class TestEnvHelpers:
    def test_booleans_accept_the_usual_spellings(self, monkeypatch):
        for value, expected in [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("off", False)]:
            monkeypatch.setenv("E360_FLAG", value)
            assert env.env_bool("E360_FLAG") is expected

    def test_a_malformed_boolean_fails_loudly(self, monkeypatch):
        monkeypatch.setenv("E360_FLAG", "maybe")
        with pytest.raises(ImproperlyConfigured, match="E360_FLAG='maybe' is not a boolean"):
            env.env_bool("E360_FLAG")

    def test_a_malformed_integer_fails_loudly(self, monkeypatch):
        monkeypatch.setenv("E360_PORT", "eighty")
        with pytest.raises(ImproperlyConfigured, match="not an integer"):
            env.env_int("E360_PORT", 1)

    def test_a_required_value_fails_loudly_when_missing(self, monkeypatch):
        monkeypatch.delenv("E360_SECRET", raising=False)
        with pytest.raises(ImproperlyConfigured, match="E360_SECRET environment variable is required"):
            env.env_str("E360_SECRET", required=True)

    def test_secrets_can_come_from_files(self, monkeypatch, tmp_path):
        secret = tmp_path / "secret"
        secret.write_text("s3cret\n")
        monkeypatch.setenv("E360_SECRET_FILE", str(secret))
        assert env.env_str("E360_SECRET") == "s3cret"

    def test_an_unreadable_secret_file_fails_loudly(self, monkeypatch, tmp_path):
        monkeypatch.setenv("E360_SECRET_FILE", str(tmp_path / "missing"))
        with pytest.raises(ImproperlyConfigured, match="cannot be read"):
            env.env_str("E360_SECRET")

    def test_lists_are_comma_separated(self, monkeypatch):
        monkeypatch.setenv("E360_HOSTS", "a.example, b.example,,")
        assert env.env_list("E360_HOSTS") == ["a.example", "b.example"]


def _manage(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checks(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        # The checks ask the database what it supports (a generated column): give them one that exists.
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-value-0123456789",
        ALLOWED_HOSTS="e360.example.com",
        EMAIL_HOST="smtp.example.com",
        EMAIL_HOST_USER="e360",
        EMAIL_HOST_PASSWORD="smtp-password",
        SITE_URL="https://e360.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deployment_checks_warn_when_emails_would_link_to_the_loopback_address(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        DEBUG="0",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="e360.example.com",
        SITE_URL="",
    )
    assert "e360.W001" in result.stdout + result.stderr
    assert "SITE_URL is 'http://127.0.0.1:8000'" in result.stdout + result.stderr


def _site_url(**environ: str) -> str:
    code = "from django.conf import settings; print(settings.SITE_URL)"
    result = _manage("shell", "--no-imports", "-c", code, DEBUG="1", **environ)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_site_url_follows_the_host_and_port_make_run_serves_on():
    # `PORT=8201 make run` exports HOST and PORT: invitation links must point there, not to port 8000.
    assert _site_url(HOST="127.0.0.1", PORT="8201", SITE_URL="") == "http://127.0.0.1:8201"
    assert _site_url(HOST="", PORT="", SITE_URL="") == "http://127.0.0.1:8000"


def test_an_explicit_site_url_wins_over_host_and_port():
    assert _site_url(HOST="127.0.0.1", PORT="8201", SITE_URL="https://e360.example.com/") == "https://e360.example.com"


def test_production_refuses_to_start_without_a_secret_key():
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "-c", "import e360.wsgi"],
        cwd=ROOT,
        env={**clean, "DEBUG": "0", "ALLOWED_HOSTS": "e360.example.com"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY environment variable is required" in result.stderr


def test_commands_that_sign_nothing_run_without_a_secret_key(tmp_path):
    result = _manage(
        "makemigrations", "--check", "--dry-run", DATABASE_URL=f"sqlite:///{tmp_path / 'm.sqlite3'}", DEBUG="0"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_the_deploy_checks_flag_a_missing_secret_key(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        DEBUG="0",
        ALLOWED_HOSTS="x.example",
    )
    assert "security.W009" in result.stdout + result.stderr


def test_the_content_security_policy_is_strict(client, db):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_pages_carry_the_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_migrations_are_missing(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


class TestEnvFile:
    def test_it_fills_in_what_the_environment_lacks(self, monkeypatch, tmp_path):
        monkeypatch.delenv("E360_A", raising=False)
        monkeypatch.setenv("E360_B", "from-environment")
        path = tmp_path / ".env"
        path.write_text("# comment\n\nE360_A='quoted value'\nexport E360_B=from-file\n")
        env.load_env_file(path)
        assert os.environ["E360_A"] == "quoted value"
        assert os.environ["E360_B"] == "from-environment"
        monkeypatch.delenv("E360_A")

    def test_a_malformed_line_fails_loudly(self, tmp_path):
        path = tmp_path / ".env"
        path.write_text("JUST TEXT\n")
        with pytest.raises(ImproperlyConfigured, match="line 1 is not KEY=VALUE"):
            env.load_env_file(path)

    def test_a_missing_file_is_fine(self, tmp_path):
        env.load_env_file(tmp_path / "absent")
