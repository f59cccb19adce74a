"""python manage.py export_wave WAVE_ID --format csv|xlsx|dta [--language ru]
[--output PATH]: a wave's microdata, with its codebook written beside it."""

import os
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

#: Extensions of data files, each with the format it belongs to: a file named for one
#: format and holding another would open wrongly, or not at all.
EXTENSIONS = {".csv": "csv", ".xlsx": "xlsx", ".xls": "xls", ".dta": "dta"}


def codebook_path(output: Path, format: str) -> Path:
    """``wave7.dta`` -> ``wave7-dta-codebook.csv``, in the same folder.

    The format is in the name because each format has its own codebook (Stata's codes
    differ from the labels of CSV and XLSX), and the three exports of a wave would
    otherwise share one default codebook name, each replacing the one before.
    """
    return output.with_name(f"{output.stem}-{format}-codebook.csv")


def output_problem(text: str, format: str, default: str) -> str | None:
    """Why the data and its codebook cannot be written to ``--output text``, or None.

    ``default`` is the file name used without ``--output``, offered inside a folder.
    """
    output = Path(text)
    if text == "-":
        return (
            "--output -: the export is two files, the data and its codebook, so it "
            "cannot go to standard output; give a file name."
        )
    if output.is_dir():
        return (
            f"--output {output} is a folder; give a file name, such as "
            f"{output / default}."
        )
    # Path drops a trailing separator, so without this check "reports/" for a
    # missing folder would be written as a file named "reports".
    if text.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        return (
            f"--output {text} names a folder, and there is no folder {output}; "
            f"create it or give a file name, such as {output / default}."
        )
    written_as = EXTENSIONS.get(output.suffix.lower())
    if written_as is not None and written_as != format:
        return (
            f"--output {output.name} ends in {output.suffix}, but --format is "
            f"{format}: name the file .{format} or choose the format its name says."
        )
    if not output.parent.is_dir():
        return f"No folder {output.parent} to write {output.name} in."
    codebook = codebook_path(output, format)
    if codebook.is_dir():
        return (
            f"The codebook goes to {codebook}, which is a folder; give another "
            "--output."
        )
    return None


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
            help="the file to write (default wave<ID>-microdata-<language>.<format>); "
            "the codebook goes beside it as <name>-<format>-codebook.csv",
        )

    def handle(self, *args, **options):
        wave = self.wave(options["wave_id"])
        format, language = options["format"], options["language"]
        if format not in FORMATS:
            raise CommandError(
                f"Unknown format {format!r}: use csv, xlsx or dta.", returncode=2
            )
        default = f"wave{wave.pk}-microdata-{language}.{format}"
        text = options["output"] or default
        problem = output_problem(text, format, default)
        if problem:
            raise CommandError(problem, returncode=2)
        output = Path(text)

        try:
            export = microdata_export(wave=wave, format=format, language=language)
        except AnalysisError as error:
            raise CommandError(str(error), returncode=2) from None

        codebook_file = codebook_path(output, format)
        try:
            rows = self.write(export, format, output, codebook_file)
        except OSError as error:
            raise CommandError(
                f"Cannot write {error.filename or output}: {error.strerror}.",
                returncode=2,
            ) from None

        self.stdout.write(f"Wrote {rows} rows to {output}")
        self.stdout.write(f"Wrote the codebook to {codebook_file}")

    def write(self, export, format: str, output: Path, codebook_file: Path) -> int:
        """Write the data to ``output`` and its codebook beside it; the rows written."""
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
        codebook_file.write_text(codebook_csv(codebook), encoding="utf-8", newline="")
        return rows

    def wave(self, value: str) -> Wave:
        wave = None
        if value.isdigit():
            wave = Wave.objects.select_related("survey").filter(pk=int(value)).first()
        if wave is None:
            raise CommandError(f"No wave with id {value!r}.", returncode=2)
        return wave
