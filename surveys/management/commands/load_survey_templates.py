from __future__ import annotations

from django.core.management.base import BaseCommand

from surveys.services import templates_load_bank


class Command(BaseCommand):
    help = (
        "Create the survey templates shipped with e360 (Developer experience, onboarding week 1 and "
        "month 1, post-incident, quarterly pulse) that do not exist yet. Templates already present are "
        "left as they are, so running it again changes nothing."
    )

    def handle(self, *args: object, **options: object) -> None:
        created, kept = templates_load_bank()
        self.stdout.write(f"Created {created} survey templates; {kept} were present already and left as they are.")
