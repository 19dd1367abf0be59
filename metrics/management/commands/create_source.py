from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from e360.models import Service, Team
from metrics.models import Source
from metrics.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create a data source and its first API key, and print where to send data. "
        "A devlake source prints the DevLake-compatible webhook URL to put in CI scripts "
        "in place of DevLake's. The key is printed once; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="A unique name, e.g. the team or the CI system.")
        parser.add_argument("--kind", choices=[Source.Kind.DEVLAKE, Source.Kind.API], default=Source.Kind.DEVLAKE)
        parser.add_argument("--service", metavar="SLUG", help="Default service for records that name none.")
        parser.add_argument(
            "--team",
            metavar="SLUG",
            help="The team that runs this source; it writes to the services of this team and the teams below it.",
        )
        parser.add_argument(
            "--every-service",
            action="store_true",
            help="Let the source write to every service (an organisation-wide CI), not only its team's and default.",
        )

    def handle(
        self,
        *args: object,
        name: str,
        kind: str,
        service: str | None,
        team: str | None,
        every_service: bool = False,
        **options,
    ) -> None:
        if Source.objects.filter(name=name).exists():
            raise CommandError(f'A source named "{name}" exists already.')
        default_service = self._get(Service, service, "service")
        owner = self._get(Team, team, "team")
        with transaction.atomic():
            source = Source.objects.create(
                name=name,
                kind=kind,
                default_service=default_service,
                team=owner,
                may_write_every_service=every_service,
            )
            _, key = api_token_create(source=source, name=f"{name} key")

        self.stdout.write(
            self.style.SUCCESS(f'Created the {source.get_kind_display()} source "{name}" (id {source.pk}).')
        )
        # Printed once, on purpose: the key is stored only as a hash.
        self.stdout.write(f"  API key (shown only now): {key}")
        if kind == Source.Kind.DEVLAKE:
            base = f"{settings.SITE_URL}/api/rest/plugins/webhook/connections/{source.pk}/"
            self.stdout.write(f"  DevLake webhook base URL: {base}")
            self.stdout.write("  Example:")
            self.stdout.write(
                f"    curl -sS -X POST '{base}deployments' \\\n"
                f"      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
                """      -d '{"id": "build-42", "result": "SUCCESS", "environment": "PRODUCTION", """
                """"startedDate": "2025-01-01T12:00:00Z", "finishedDate": "2025-01-01T12:05:00Z", """
                """"deploymentCommits": [{"repoUrl": "https://github.com/acme/checkout", "commitSha": "0a1b2c3"}]}'"""
            )
        else:
            base = f"{settings.SITE_URL}/api/v1/"
            self.stdout.write(f"  JSON API base URL: {base} (schema at {base}openapi.json)")
            self.stdout.write("  Example:")
            self.stdout.write(f"    curl -sS '{base}openapi.json' -H 'Authorization: Bearer {key}'")
        if not every_service:
            self.stdout.write(
                "  It writes only to the services of its team (and the teams below it), of its repository map "
                "and its default service; --every-service, or the admin, lets it write to every service."
            )
        if default_service is None:
            self.stdout.write(
                "  No default service: records are matched to services by repository "
                "(the source's repository map in the admin, or the services' repositories)."
            )

    @staticmethod
    def _get(model, slug: str | None, what: str):
        if slug is None:
            return None
        found = model.objects.filter(slug=slug).first()
        if found is None:
            raise CommandError(f'No {what} with slug "{slug}".')
        return found
