"""python manage.py compare_waves EARLIER_ID LATER_ID [--by VAR ...] [--weighted]."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from analysis.comparison import change_csv, change_text, wave_comparison
from analysis.errors import AnalysisError
from analysis.formatting import as_json
from survey.cli import several
from survey.models import Wave


class Command(BaseCommand):
    help = (
        "The change in the estimate from an earlier wave to a later wave of one survey "
        "(later minus earlier), overall and within every level of each --by variable "
        "found in both waves. Refused (exit 2) unless EARLIER went to the field before "
        "LATER (first day of fieldwork, else the day it opened or was created) and "
        "both waves showed the same cards: items, lists and wording in every language."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "earlier", type=int, help="id of the earlier wave (in the field first)"
        )
        parser.add_argument("later", type=int, help="id of the later wave")
        parser.add_argument(
            "--by", action="append", help="breakdown variable(s): VAR or VAR,VAR"
        )
        parser.add_argument(
            "--weighted",
            action="store_true",
            help="estimate each wave under its own design (weights, strata, cluster)",
        )
        parser.add_argument(
            "--experiment",
            default="",
            help="code of the list experiment (default: the first)",
        )
        parser.add_argument(
            "--language",
            default="en",
            choices=[code for code, _name in settings.LANGUAGES],
            help="language of the level labels and messages",
        )
        parser.add_argument(
            "--format", choices=["table", "csv", "json"], default="table"
        )

    def handle(self, *args, **options):
        waves = {}
        for key in ("earlier", "later"):
            wave = Wave.objects.select_related("survey").filter(pk=options[key]).first()
            if wave is None:
                raise CommandError(f"No wave with id {options[key]}.", returncode=2)
            waves[key] = wave

        experiment = None
        if options["experiment"]:
            experiment = (
                waves["later"]
                .survey.experiments.filter(code=options["experiment"])
                .first()
            )
            if experiment is None:
                raise CommandError(
                    f"The survey of wave {waves['later'].pk} has no list experiment "
                    f"with code {options['experiment']!r}.",
                    returncode=2,
                )

        with translation.override(options["language"]):
            try:
                result = wave_comparison(
                    earlier=waves["earlier"],
                    later=waves["later"],
                    experiment=experiment,
                    by=several(options["by"]),
                    weighted=options["weighted"],
                    language=options["language"],
                )
            except AnalysisError as error:
                raise CommandError(str(error), returncode=2) from None

        if options["format"] == "json":
            self.stdout.write(as_json(result), ending="\n")
        elif options["format"] == "csv":
            self.stdout.write(change_csv(result), ending="")
        else:
            self.stdout.write(change_text(result), ending="")
