"""python manage.py export_wave WAVE_ID --format csv|xlsx|dta [--language ru]
[--output PATH]: a wave's microdata, with its codebook written beside it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.errors import AnalysisError
from analysis.exports.microdata import (
    FORMATS,
    codebook_csv,
    codebook_rows,
    csv_lines,
    microdata_dta,
    microdata_export,
    microdata_xlsx,
)
from survey.models import Wave


def codebook_path(output: Path) -> Path:
    """``wave7.dta`` -> ``wave7-codebook.csv``, in the same folder."""
    return output.with_name(f"{output.stem}-codebook.csv")


class Command(BaseCommand):
    help = (
        "Write a wave's microdata as CSV, XLSX or Stata, with a codebook (every "
        "column's name, label, type and value labels) beside it. Identifiers follow "
        "the survey's export setting. Unknown waves, formats or languages: exit 2."
    )

    def add_arguments(self, parser):
        parser.add_argument("wave_id", help="the wave's number")
        parser.add_argument("--format", required=True, help="csv, xlsx or dta")
        parser.add_argument(
            "--language", default="en", help="labels' language: en, ru or kk"
        )
        parser.add_argument(
            "--output",
            help="the file to write (default wave<ID>-microdata-<language>.<format>)",
        )

    def handle(self, *args, **options):
        wave = self.wave(options["wave_id"])
        format, language = options["format"], options["language"]
        if format not in FORMATS:
            raise CommandError(
                f"Unknown format {format!r}: use csv, xlsx or dta.", returncode=2
            )
        output = Path(
            options["output"] or f"wave{wave.pk}-microdata-{language}.{format}"
        )
        if not output.parent.is_dir():
            raise CommandError(
                f"No folder {output.parent} to write {output.name} in.", returncode=2
            )

        try:
            export = microdata_export(wave=wave, format=format, language=language)
        except AnalysisError as error:
            raise CommandError(str(error), returncode=2) from None

        codebook = codebook_rows(export)
        if format == "csv":
            with output.open("w", encoding="utf-8", newline="") as target:
                rows = -1
                for line in csv_lines(export):
                    target.write(line)
                    rows += 1
        elif format == "xlsx":
            with output.open("wb") as target:
                rows = microdata_xlsx(export, target)
        else:
            with output.open("wb") as target:
                rows, codebook = microdata_dta(export, target)
        codebook_file = codebook_path(output)
        codebook_file.write_text(codebook_csv(codebook), encoding="utf-8", newline="")

        self.stdout.write(f"Wrote {rows} rows to {output}")
        self.stdout.write(f"Wrote the codebook to {codebook_file}")

    def wave(self, value: str) -> Wave:
        wave = None
        if value.isdigit():
            wave = Wave.objects.select_related("survey").filter(pk=int(value)).first()
        if wave is None:
            raise CommandError(f"No wave with id {value!r}.", returncode=2)
        return wave
