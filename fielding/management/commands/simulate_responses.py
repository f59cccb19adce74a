"""python manage.py simulate_responses WAVE_ID N [--from memo|data] [--seed S]."""

from django.core.management.base import BaseCommand, CommandError

from fielding.errors import FieldingError
from fielding.services import DATA, MEMO, responses_simulate
from survey.models import Wave

#: The most respondents one call adds. They are drawn in memory and stored in one
#: transaction: 100,000 took 19 seconds and 510 MB on SQLite, and memory grows by
#: about 3 KB a respondent, so a million would need some 3 GB. Run it again for more.
MAX_SIMULATED = 100_000


class Command(BaseCommand):
    help = (
        "Add N simulated respondents (labelled simulated everywhere) to a wave that is "
        "not closed: from the founding memo's assumptions (its survey only) or by "
        "resampling the wave's own respondents."
    )

    def add_arguments(self, parser):
        parser.add_argument("wave_id", type=int)
        parser.add_argument(
            "n", type=int, help=f"respondents to add, 1 to {MAX_SIMULATED:,}"
        )
        parser.add_argument(
            "--from",
            dest="source",
            choices=[MEMO, DATA],
            help="default: memo for the founding survey, data otherwise",
        )
        parser.add_argument("--seed", type=int, help="for a reproducible draw")

    def handle(self, *args, **options):
        n = options["n"]
        if n > MAX_SIMULATED:
            raise CommandError(
                f"N is at most {MAX_SIMULATED:,} simulated respondents per call; got "
                f"{n:,}. Run the command again to add more.",
                returncode=2,
            )
        wave = (
            Wave.objects.select_related("survey").filter(pk=options["wave_id"]).first()
        )
        if wave is None:
            raise CommandError(f"No wave with id {options['wave_id']}.", returncode=2)
        try:
            n = responses_simulate(
                wave=wave,
                n=n,
                source=options["source"],
                seed=options["seed"],
            )
        except FieldingError as error:
            raise CommandError(str(error), returncode=2) from None
        self.stdout.write(
            f"Added {n} simulated respondents to wave {wave.pk} “{wave.name}”."
        )
