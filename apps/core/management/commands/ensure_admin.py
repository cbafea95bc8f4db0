"""Create the admin user from ADMIN_USERNAME / ADMIN_PASSWORD when it does not exist yet."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser named by ADMIN_USERNAME/ADMIN_PASSWORD if missing."

    def handle(self, *args: object, **options: object) -> None:
        user_model = get_user_model()
        username, password = settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD
        if username and password:
            if user_model.objects.filter(username=username).exists():
                self.stdout.write(f"admin user '{username}' exists")
            else:
                user_model.objects.create_superuser(username=username, password=password)
                self.stdout.write(f"created admin user '{username}'")
        elif not user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "no admin user yet: run `.venv/bin/python manage.py createsuperuser` "
                "or set ADMIN_USERNAME and ADMIN_PASSWORD and start again"
            )
