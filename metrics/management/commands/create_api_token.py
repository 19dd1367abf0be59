from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from metrics.models import Source
from metrics.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API key for an existing source and print it once, with an example request. "
        "Writes made with the key are stored under that source, and it reads only that source's records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, metavar="NAME", help="The source's name.")
        parser.add_argument("--name", help="What the key is for, e.g. the CI job (default: the source and date).")

    def handle(self, *args: object, source: str, name: str | None, **options: object) -> None:
        found = Source.objects.filter(name=source).first()
        if found is None:
            known = ", ".join(Source.objects.values_list("name", flat=True)[:20]) or "none yet"
            raise CommandError(
                f'No source named "{source}" (sources: {known}). Create one with `manage.py create_source`.'
            )
        if not found.is_active:
            raise CommandError(f'The source "{source}" is inactive: its keys would be refused. Activate it first.')
        token_name = name or f"{found.name} key {timezone.now():%Y-%m-%d}"
        token, key = api_token_create(source=found, name=token_name)

        base = f"{settings.SITE_URL}/api/v1"
        self.stdout.write(self.style.SUCCESS(f'Created the API key "{token.name}" for the source "{found.name}".'))
        # Printed once, on purpose: only the key's hash is stored.
        self.stdout.write(f"  API key (shown only now): {key}")
        self.stdout.write(f"  API docs: {base}/docs")
        self.stdout.write("  Example:")
        self.stdout.write(
            f"    curl -sS -X POST '{base}/deployments' \\\n"
            f"      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
            """      -d '{"external_id": "deploy-42", "service": "checkout", "environment": "production", """
            """"started_at": "2025-05-01T12:00:00Z", "finished_at": "2025-05-01T12:04:30Z"}'"""
        )
