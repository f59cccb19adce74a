"""python manage.py revive_jobs: hand stalled estimate jobs on again (run it from cron)."""

from django.core.management.base import BaseCommand

from analysis.runner import jobs_revive


class Command(BaseCommand):
    help = (
        "Hand on every estimate job nobody is working on: saved while the queue was "
        "down, lost from a queue, or running under a lease that lapsed. Safe to run "
        "every minute."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"Handed on {jobs_revive()} stalled jobs.")
