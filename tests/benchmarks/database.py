"""The benchmarks' PostgreSQL database: made afresh, migrated, and loaded with COPY.

The database is ``listexp_bench`` on 127.0.0.1:5432 (user postgres, trust auth),
dropped and created by `database_create`; override the server with ``BENCH_PG_HOST``,
``BENCH_PG_PORT`` and ``BENCH_PG_USER``. Django runs in this process against it with
the production settings (DEBUG off), and the demo survey is loaded so that waves have
its questions, places and users.

A million respondents are too many for the ORM in a benchmark's time, so `wave_load`
writes the rows of the respondent, assignment and response tables with COPY, as an
import would store them.
"""

from __future__ import annotations

import io
import os
import secrets

import numpy as np
import psycopg

from tests.benchmarks.common import PLACE_OF_REGION, REGIONS, Respondents

NAME = "listexp_bench"
HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
USER = os.environ.get("BENCH_PG_USER", "postgres")
URL = f"postgres://{USER}@{HOST}:{PORT}/{NAME}"
STAMP = "2024-05-02 10:00:00+00"
# Rows written to COPY per chunk: a chunk's text is a few megabytes.
CHUNK = 50_000
# One key for this process and the servers it starts, made afresh for each run.
SECRET_KEY = secrets.token_urlsafe(50)


def connect(database: str = NAME, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(
        host=HOST, port=PORT, user=USER, dbname=database, autocommit=autocommit
    )


def server_environment() -> dict[str, str]:
    """The variables a process of the project needs to run on the database."""
    return {
        "DATABASE_URL": URL,
        "DJANGO_SETTINGS_MODULE": "survey.settings",
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        "TESTING": "0",
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }


def database_create() -> None:
    """Drop ``listexp_bench`` if it is there, create it, migrate, load the demo."""
    with connect("postgres") as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {NAME}")

    os.environ.update(server_environment())
    import django

    django.setup()
    from django.core.management import call_command

    from survey.demo import demo_load

    call_command("migrate", verbosity=0)
    demo_load()


def demo_objects():
    """The demo survey's experiment, its interviewer and the places by code."""
    from django.contrib.auth import get_user_model

    from survey.demo import DEMO_SURVEY_CODE
    from survey.models import ListExperiment, Settlement

    experiment = ListExperiment.objects.get(survey__code=DEMO_SURVEY_CODE)
    interviewer = get_user_model().objects.get(username="interviewer")
    places = dict(Settlement.objects.values_list("code", "id"))
    return experiment, interviewer, places


def wave_load(data: Respondents, name: str) -> int:
    """A draft wave of the demo survey holding ``data`` as imported respondents, one
    complete response each; returns the wave's id."""
    from survey.models import Wave

    experiment, _interviewer, places = demo_objects()
    wave = Wave.objects.create(
        survey=experiment.survey, name=name, description="Benchmark data."
    )
    place_ids = np.asarray([places[PLACE_OF_REGION[r]] for r in REGIONS])[data.region]

    with connect(autocommit=False) as db:
        # The rows refer only to rows that exist, so the foreign-key triggers, which
        # would treble the load's time, are skipped for this transaction.
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute("LOCK TABLE fielding_respondent, fielding_assignment")
        first = db.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM fielding_respondent"
        ).fetchone()[0]
        first = max(
            first,
            db.execute(
                "SELECT coalesce(max(id), 0) + 1 FROM fielding_assignment"
            ).fetchone()[0],
        )
        ids = np.arange(first, first + len(data))
        copy_rows(
            db,
            "fielding_respondent (id, wave_id, place_id, mode, language, "
            "payload_hash, late, answers, received_at)",
            respondent_lines(ids, wave.pk, place_ids, data),
        )
        copy_rows(
            db,
            "fielding_assignment (id, respondent_id, experiment_id, arm, item_order, "
            "source, created_at)",
            (
                f"{i}\t{i}\t{experiment.pk}\t{arm}\t{{}}\timport\t{STAMP}\n"
                for i, arm in zip(
                    ids.tolist(),
                    np.where(data.treat, "treatment", "control").tolist(),
                )
            ),
        )
        copy_rows(
            db,
            "fielding_response (assignment_id, status, count, created_at, updated_at)",
            (
                f"{i}\tcomplete\t{y}\t{STAMP}\t{STAMP}\n"
                for i, y in zip(ids.tolist(), data.y.astype(int).tolist())
            ),
        )
        for table in ("fielding_respondent", "fielding_assignment"):
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        db.commit()
    with connect() as db:
        for table in (
            "fielding_respondent",
            "fielding_assignment",
            "fielding_response",
        ):
            db.execute(f"ANALYZE {table}")
    return wave.pk


def respondent_lines(ids, wave_id: int, place_ids, data: Respondents):
    for i, place, gender, education in zip(
        ids.tolist(),
        place_ids.tolist(),
        data.gender.tolist(),
        data.education.tolist(),
    ):
        answers = f'{{"gender": "{gender}", "education": "{education}"}}'
        yield f"{i}\t{wave_id}\t{place}\t\t\t\tfalse\t{answers}\t{STAMP}\n"


def copy_rows(db: psycopg.Connection, target: str, lines) -> None:
    """COPY the text-format ``lines`` into ``target`` (a table and its columns)."""
    with db.cursor().copy(f"COPY {target} FROM STDIN") as copy:
        buffer = io.StringIO()
        for n, line in enumerate(lines, start=1):
            buffer.write(line)
            if n % CHUNK == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def copy_out(sql: str) -> int:
    """Run ``COPY (sql) TO STDOUT`` and read every byte; returns how many."""
    total = 0
    with connect() as db, db.cursor().copy(f"COPY ({sql}) TO STDOUT") as copy:
        for chunk in copy:
            total += len(chunk)
    return total
