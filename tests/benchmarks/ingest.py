"""Benchmark 4: responses sent by tablets through the sync API, under load.

gunicorn serves the project with two (sync) workers, as docs/deployment.md runs it,
on the benchmark database. Sixteen clients, each a registered tablet with its own
token and its own reserved slots of the demo's pilot wave, post batches of 50
responses to ``/api/v1/responses/`` at once. What is measured is the responses
stored per second (from the first request to the last answer) and each batch's
latency. Every response must come back ``created`` and be stored once.

The baseline stores the same rows (respondent, assignment, response, and the slot
marked used) with psycopg's ``executemany`` in batches of 50, one transaction per
batch, on one connection: what the database needs, without the checks a response
goes through and without HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid

import numpy as np
import requests

from tests.benchmarks import database
from tests.benchmarks.common import (
    CSV_COLUMNS,
    OUT,
    PLACE_OF_REGION,
    ROOT,
    J,
    all_at_once,
    csv_path,
    rounded,
    say,
)

CLIENTS = 16
BATCH = 50
BATCHES_PER_CLIENT = 4
ROUNDS = 2
WORKERS = 2
TARGET = 1 / 3
RESPONSES_URL = "/api/v1/responses/"
# A place of interview in each stratum of the demo's pilot wave.
PLACES = ["almaty", "astana", "aktobe", "talgar", "karaganda"]
REGION_OF_PLACE = {place: region for region, place in PLACE_OF_REGION.items()}
STARTED = "2024-05-02T10:00:00+00:00"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn on a free port of 127.0.0.1, its output in var/bench/gunicorn.log."""

    def __init__(self, workers: int = WORKERS):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log = open(OUT / "gunicorn.log", "ab")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "survey.wsgi",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                "--timeout", "120",
            ],
            cwd=ROOT,
            env={**os.environ, **database.server_environment(), "LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def wait(self, token: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn stopped; see var/bench/gunicorn.log")
            try:
                reply = requests.get(
                    f"{self.base}/api/v1/waves/",
                    headers={"Authorization": f"Token {token}"},
                    timeout=5,
                )
                if reply.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {seconds} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def pilot_wave():
    from survey.demo import DEMO_SURVEY_CODE
    from survey.models import Wave

    return Wave.objects.get(survey__code=DEMO_SURVEY_CODE, status=Wave.FIELDING)


def tablet(label: str):
    """A new tablet's token row and raw token, registered to the demo interviewer."""
    from fielding.tokens import token_issue

    _experiment, interviewer, _places = database.demo_objects()
    return token_issue(user=interviewer, label=label)


def reserved(token, wave, n: int, rng) -> list[dict]:
    """``n`` slots reserved for ``token``, each with a response to send on it."""
    from fielding.reservations import slots_reserve

    items = []
    while len(items) < n:
        place = PLACES[len(items) // BATCH % len(PLACES)]
        slots, _over = slots_reserve(
            token=token, wave=wave, place=place, count=min(BATCH, n - len(items))
        )
        for slot in slots:
            treated = slot.arm == "treatment"
            items.append(
                {
                    "uuid": str(uuid.uuid4()),
                    "slot": slot.pk,
                    "status": "complete",
                    "count": int(rng.binomial(J, 0.5) + treated * (rng.random() < 0.4)),
                    "place": place,
                    "language": "ru",
                    "answers": {
                        "gender": str(rng.integers(1, 3)),
                        "education": str(rng.integers(1, 7)),
                    },
                    "card_shown_at": STARTED,
                    "started_at": STARTED,
                    "finished_at": STARTED,
                    "_arm": slot.arm,
                    "_item_order": slot.item_order,
                    "_stratum": slot.stratum_id,
                }
            )
    return items


def sent(item: dict) -> dict:
    return {key: value for key, value in item.items() if not key.startswith("_")}


def api_round(server: Server, clients: list[tuple[str, list[dict]]]) -> dict:
    """Every client posts its batches one after another, all clients at once."""
    latencies, failures = [], []

    def client(raw: str, items: list[dict]):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {raw}"
        for first in range(0, len(items), BATCH):
            batch = [sent(item) for item in items[first : first + BATCH]]
            began = time.perf_counter()
            try:
                reply = session.post(
                    server.base + RESPONSES_URL, json={"responses": batch}, timeout=300
                )
                results = reply.json()["results"] if reply.status_code == 200 else []
            except (requests.RequestException, ValueError) as error:
                failures.append(repr(error))
                continue
            latencies.append(time.perf_counter() - began)
            if [r["result"] for r in results] != ["created"] * len(batch):
                failures.append(f"{reply.status_code}: {reply.text[:300]}")

    elapsed = all_at_once(client, clients)
    if failures:
        raise AssertionError(f"{len(failures)} batches failed, first: {failures[0]}")
    stored = sum(len(items) for _raw, items in clients)
    return {"responses": stored, "seconds": elapsed, "latencies": latencies}


def baseline_round(token, wave, items: list[dict]) -> dict:
    """The same rows stored with executemany, 50 responses per transaction."""
    from fielding.sync import content_hash

    experiment, interviewer, places = database.demo_objects()
    now = dt.datetime.now(dt.UTC)
    with database.connect(autocommit=False) as db, db.cursor() as cursor:
        began = time.perf_counter()
        for first in range(0, len(items), BATCH):
            batch = items[first : first + BATCH]
            cursor.executemany(
                "INSERT INTO fielding_respondent (wave_id, interviewer_id, place_id, "
                "stratum_id, mode, language, client_uuid, payload_hash, late, answers, "
                "consented_at, registered_at, started_at, finished_at, received_at) "
                "VALUES (%s, %s, %s, %s, 'tablet', %s, %s, %s, false, %s, %s, %s, %s, "
                "%s, %s) RETURNING id",
                [
                    (
                        wave.pk, interviewer.pk, places[item["place"]],
                        item["_stratum"], item["language"], item["uuid"],
                        content_hash(sent(item)), json.dumps(item["answers"]),
                        STARTED, STARTED, STARTED, STARTED, now,
                    )
                    for item in batch
                ],
                returning=True,
            )  # fmt: skip
            respondents = returned_ids(cursor)
            cursor.executemany(
                "INSERT INTO fielding_assignment (respondent_id, experiment_id, arm, "
                "item_order, source, slot_id, created_at, card_shown_at) "
                "VALUES (%s, %s, %s, %s, 'allocation', %s, %s, %s) RETURNING id",
                [
                    (
                        respondent, experiment.pk, item["_arm"],
                        json.dumps(item["_item_order"]), item["slot"], now, STARTED,
                    )
                    for respondent, item in zip(respondents, batch)
                ],
                returning=True,
            )  # fmt: skip
            assignments = returned_ids(cursor)
            cursor.executemany(
                "INSERT INTO fielding_response (assignment_id, status, count, "
                "created_at, updated_at) VALUES (%s, 'complete', %s, %s, %s)",
                [
                    (assignment, item["count"], now, now)
                    for assignment, item in zip(assignments, batch)
                ],
            )
            cursor.executemany(
                "UPDATE fielding_allocationslot SET status = 'used', "
                "allocated_at = %s, allocated_by_id = %s WHERE id = %s",
                [(STARTED, interviewer.pk, item["slot"]) for item in batch],
            )
            db.commit()
        elapsed = time.perf_counter() - began
    return {"responses": len(items), "seconds": elapsed}


def returned_ids(cursor) -> list[int]:
    ids = [cursor.fetchone()[0]]
    while cursor.nextset():
        ids.append(cursor.fetchone()[0])
    return ids


def write_items_csv(items: list[dict], n: int):
    path = csv_path("ingest", n)
    with path.open("w") as target:
        target.write(",".join(CSV_COLUMNS) + "\n")
        for item in items:
            target.write(
                f"{item['count']},{int(item['_arm'] == 'treatment')},"
                f"{item['answers']['gender']},{item['answers']['education']},"
                f"{REGION_OF_PLACE[item['place']]}\n"
            )
    return path


def check_stored_once(wave, items: list[dict]) -> None:
    from fielding.models import AllocationSlot, Respondent

    uuids = [item["uuid"] for item in items]
    stored = Respondent.objects.filter(client_uuid__in=uuids).count()
    used = AllocationSlot.objects.filter(
        pk__in=[item["slot"] for item in items], status=AllocationSlot.USED
    ).count()
    if stored != len(items) or used != len(items):
        raise AssertionError(
            f"{len(items)} responses sent, {stored} stored, {used} slots used"
        )


def run() -> dict:
    wave = pilot_wave()
    rng = np.random.default_rng(4)
    per_client = BATCH * BATCHES_PER_CLIENT
    rounds = []
    all_items = []
    server = None
    try:
        for number in range(ROUNDS):
            clients = []
            for n in range(CLIENTS):
                token, raw = tablet(f"bench tablet {number}-{n}")
                clients.append((raw, reserved(token, wave, per_client, rng)))
            base_token, _raw = tablet(f"bench baseline {number}")
            base_items = reserved(base_token, wave, per_client * CLIENTS, rng)
            if server is None:
                server = Server()
                server.wait(clients[0][0])

            api = api_round(server, clients)
            items = [item for _raw, batch in clients for item in batch]
            check_stored_once(wave, items)
            base = baseline_round(base_token, wave, base_items)
            check_stored_once(wave, base_items)
            all_items += items
            rounds.append((api, base))
            say(
                f"  ingest round {number + 1}: API {api['responses'] / api['seconds']:.0f}"
                f" responses/s, executemany "
                f"{base['responses'] / base['seconds']:.0f} responses/s"
            )
    finally:
        if server is not None:
            server.stop()

    api_rates = [api["responses"] / api["seconds"] for api, _base in rounds]
    base_rates = [base["responses"] / base["seconds"] for _api, base in rounds]
    latencies = [x for api, _base in rounds for x in api["latencies"]]
    api_rate, base_rate = statistics.median(api_rates), statistics.median(base_rates)
    share = api_rate / base_rate
    p95 = float(np.percentile(latencies, 95))
    path = write_items_csv(all_items, len(all_items))
    say(
        f"  ingest: API {api_rate:.0f} responses/s, executemany {base_rate:.0f} "
        f"responses/s, share {share:.3f}; batch latency median "
        f"{statistics.median(latencies):.2f} s, p95 {p95:.2f} s"
    )
    return {
        "target": "API rate at least 1/3 of the executemany rate",
        "met": share >= TARGET,
        "clients": CLIENTS,
        "batch": BATCH,
        "gunicorn_workers": WORKERS,
        "responses_per_round": CLIENTS * per_client,
        "api_responses_per_s": round(api_rate, 1),
        "executemany_responses_per_s": round(base_rate, 1),
        "share": round(share, 3),
        "batch_latency_median_s": round(statistics.median(latencies), 3),
        "batch_latency_p95_s": round(p95, 3),
        "api_rates": rounded(api_rates, 1),
        "executemany_rates": rounded(base_rates, 1),
        "csv": str(path.relative_to(ROOT)),
    }
