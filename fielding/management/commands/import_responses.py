"""python manage.py import_responses FILE --items J --outcome COL --treat COL ...

``--arms control,a,b`` (several sensitive items), ``--second-list OUTCOME,TREAT``
(a double list) and ``--direct COL`` (a direct question) import the other designs.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fielding.importing import MAX_ITEMS, ImportSpec, responses_import, size_problem
from fielding.tabular import TableError, read_table
from survey.cli import distinct, several
from survey.models import Wave


class Command(BaseCommand):
    help = (
        "Import respondent-level list-experiment data (CSV, UTF-8, comma or semicolon). "
        "Without --wave, makes a survey and a draft wave named after the file. Every "
        "bad row is reported; nothing is stored unless all rows are valid (exit 2)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--items",
            type=int,
            required=True,
            help=f"J, control items (1 to {MAX_ITEMS})",
        )
        parser.add_argument("--outcome", required=True, help="column with the count")
        parser.add_argument(
            "--treat", required=True, help="column: 1 treatment, 0 control"
        )
        parser.add_argument("--wave", type=int, help="id of a draft wave to fill")
        parser.add_argument(
            "--id", dest="id_column", default="", help="respondent id column"
        )
        parser.add_argument(
            "--covariate", action="append", help="coded covariate column(s)"
        )
        parser.add_argument(
            "--numeric", action="append", help="numeric covariate column(s)"
        )
        parser.add_argument("--weight", default="", help="respondent weight column")
        parser.add_argument(
            "--place", default="", help="settlement code or name column"
        )
        parser.add_argument(
            "--arms",
            action="append",
            help="several sensitive items: the arms the --treat column holds, "
            "control first (control,a,b)",
        )
        parser.add_argument(
            "--second-list",
            default="",
            help="a double list's second list: OUTCOME,TREAT (TREAT 1 = the "
            "sensitive item is on that list; exactly one list's is 1)",
        )
        parser.add_argument(
            "--second-items",
            type=int,
            default=0,
            help="J of the second list, if it differs from --items",
        )
        parser.add_argument(
            "--direct", default="", help="direct question column: 1 yes, 0 no, empty"
        )

    def handle(self, *args, **options):
        self.check_items(options)
        path = Path(options["file"])
        if path.is_dir():
            raise CommandError(
                f"{path} is a folder; give the CSV file inside it.", returncode=2
            )
        if not path.is_file():
            raise CommandError(f"No such file: {path}", returncode=2)
        problem = size_problem(path.stat().st_size)
        if problem:
            raise CommandError(
                f"{path.name}: {problem} (IMPORT_MAX_BYTES)", returncode=2
            )

        wave = None
        if options["wave"] is not None:
            wave = Wave.objects.filter(pk=options["wave"]).first()
            if wave is None:
                raise CommandError(f"No wave with id {options['wave']}.", returncode=2)

        second_outcome, second_treat = "", ""
        if options["second_list"]:
            parts = [part.strip() for part in options["second_list"].split(",")]
            if len(parts) != 2 or not all(parts):
                raise CommandError(
                    "--second-list takes OUTCOME,TREAT, e.g. y2,treat2.", returncode=2
                )
            second_outcome, second_treat = parts

        spec = ImportSpec(
            items=options["items"],
            outcome=options["outcome"],
            treat=options["treat"],
            id_column=options["id_column"],
            covariates=tuple(several(options["covariate"])),
            numeric=tuple(several(options["numeric"])),
            weight=options["weight"],
            place=options["place"],
            arms=tuple(distinct(options["arms"], "--arms")),
            second_outcome=second_outcome,
            second_treat=second_treat,
            second_items=options["second_items"],
            direct=options["direct"],
        )
        try:
            table = read_table(path.read_bytes(), name=path.name)
            summary = responses_import(table=table, spec=spec, wave=wave)
        except TableError as error:
            for line in error.lines():
                self.stderr.write(f"{path.name}: {line}")
            raise CommandError("Nothing was imported.", returncode=2) from None

        self.stdout.write(
            f"Imported {summary.respondents} respondents "
            f"({summary.missing_counts} without a count) into wave "
            f"{summary.wave.pk} “{summary.wave.name}”."
        )
        for note in summary.notes:
            self.stdout.write(note)

    def check_items(self, options) -> None:
        """J within the web import's limits, refused before the file is read."""
        items, second = options["items"], options["second_items"]
        if not 1 <= items <= MAX_ITEMS:
            raise CommandError(
                f"--items: J must be from 1 to {MAX_ITEMS} control items; got {items}.",
                returncode=2,
            )
        if not 0 <= second <= MAX_ITEMS:
            raise CommandError(
                f"--second-items: the second list's J must be from 1 to {MAX_ITEMS} "
                f"(or left out); got {second}.",
                returncode=2,
            )
