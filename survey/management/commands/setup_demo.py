"""python manage.py setup_demo: the founding survey, a pilot wave and demo accounts."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from survey.demo import DEMO_USERS, demo_load


class Command(BaseCommand):
    help = (
        "Load the founding CSTO survey with a pilot wave of simulated responses, and "
        "demo accounts. Safe to run again. Refused when DEBUG is off (demo passwords "
        "are public) unless --allow-without-debug is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--allow-without-debug", action="store_true")

    def handle(self, *args, **options):
        if not (settings.DEBUG or settings.TESTING or options["allow_without_debug"]):
            raise CommandError(
                "DEBUG is off: demo accounts have public passwords. "
                "Use --allow-without-debug if this really is a demo server."
            )
        wave = demo_load()
        if wave is not None:
            self.stdout.write(
                f"Loaded the demo survey and wave {wave.pk} “{wave.name}”."
            )
        else:
            self.stdout.write("The demo survey is already loaded.")
        self.stdout.write("\nOpen http://127.0.0.1:8000 and log in as:")
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {role:<14} user {username:<12} password {password}")
