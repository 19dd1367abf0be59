from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand

from e360.env import env_str
from e360.models import User
from e360.services import user_trust_email


class Command(BaseCommand):
    help = (
        "Create the first admin account if no superuser exists. Takes DJANGO_SUPERUSER_EMAIL, "
        "DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD from the environment; without a "
        "password it generates one and prints it once. Does nothing when a superuser exists."
    )

    def handle(self, *args: object, **options: object) -> None:
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already; sign in with it (or `manage.py changepassword`).")
            return
        email = env_str("DJANGO_SUPERUSER_EMAIL", "admin@example.com").lower()
        username = env_str("DJANGO_SUPERUSER_USERNAME", "admin")
        password = env_str("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        admin = User.objects.create_superuser(username=username, email=email, password=password)
        user_trust_email(user=admin)
        self.stdout.write(self.style.SUCCESS(f"Created the admin account {email}."))
        if generated:
            # Printed once, on purpose: it is not stored anywhere else in clear.
            self.stdout.write(f"  Sign in at /accounts/login/ with {email} and password: {password}")
            self.stdout.write("  This password is shown only now; change it under /accounts/password/change/.")
