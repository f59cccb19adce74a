"""python manage.py simulate_responses WAVE_ID N [--from memo|data] [--seed S]."""

from django.core.management.base import BaseCommand, CommandError

from fielding.errors import FieldingError
from fielding.services import DATA, MEMO, responses_simulate
from survey.models import Wave


class Command(BaseCommand):
    help = (
        "Add N simulated respondents (labelled simulated everywhere) to a wave that is "
        "not closed: from the founding memo's assumptions (its survey only) or by "
        "resampling the wave's own respondents."
    )

    def add_arguments(self, parser):
        parser.add_argument("wave_id", type=int)
        parser.add_argument("n", type=int)
        parser.add_argument(
            "--from",
            dest="source",
            choices=[MEMO, DATA],
            help="default: memo for the founding survey, data otherwise",
        )
        parser.add_argument("--seed", type=int, help="for a reproducible draw")

    def handle(self, *args, **options):
        wave = (
            Wave.objects.select_related("survey").filter(pk=options["wave_id"]).first()
        )
        if wave is None:
            raise CommandError(f"No wave with id {options['wave_id']}.", returncode=2)
        try:
            n = responses_simulate(
                wave=wave,
                n=options["n"],
                source=options["source"],
                seed=options["seed"],
            )
        except FieldingError as error:
            raise CommandError(str(error), returncode=2) from None
        self.stdout.write(
            f"Added {n} simulated respondents to wave {wave.pk} “{wave.name}”."
        )
