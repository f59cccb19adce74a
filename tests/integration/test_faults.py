"""Faults on real servers: a worker killed mid-job, Redis down, the database restarted.

Each test breaks something on throwaway PostgreSQL and Redis servers of this module's
own (``tests/integration/throwaway.py``), never on the machine's shared ones, and checks
that the system comes back with every job finished once and every response stored
once. The project runs in its own processes, as deployed: management commands, Celery
workers and gunicorn.

Where a test must catch a process at a known point (a job half-way, two requests inside
one transaction), it holds a lock another session takes, as a long migration or a
backup would, and lets go once the processes are waiting on it.
"""

import html
import os
import re
import shutil
import signal
import threading
import time
import uuid
from datetime import timedelta

import pytest
import requests

from fielding.sync import CHUNK
from tests.integration.throwaway import (
    Site,
    ThrowawayPostgres,
    ThrowawayRedis,
    Unavailable,
    wait_until,
    workspace_make,
)

pytestmark = pytest.mark.integration

# Short enough to wait out in a test; every process of the site reads the same value.
LEASE = 5
DATABASE = "listexp_faults"
# Real work for the pilot wave's 1,000 respondents: four breakdowns, the design-effect
# test and a maximum-likelihood model.
JOB_SPEC = (
    "by=['gender', 'university', 'ethnicity', 'stratum'], design_test=True, "
    "model='ml', covariates=['gender', 'ethnicity', 'age']"
)


@pytest.fixture(scope="module")
def site():
    """The demo site on throwaway servers: migrated, demo loaded, nothing running."""
    workspace = workspace_make()
    postgres, redis = ThrowawayPostgres(workspace), ThrowawayRedis(workspace)
    try:
        postgres.create()
        postgres.start()
        redis.start()
    except Unavailable as error:
        postgres.destroy()
        redis.destroy()
        shutil.rmtree(workspace, ignore_errors=True)
        pytest.fail(f"the fault tests need PostgreSQL and Redis installed: {error}")
    site = Site.on(
        workspace,
        postgres,
        redis,
        DATABASE,
        JOB_LEASE_SECONDS=str(LEASE),
        CELERY_QUEUE="listexp-faults",
    )
    try:
        with postgres.connect() as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        site.manage("migrate", "--noinput")
        site.manage("setup_demo")
        yield site
    finally:
        print(site.stop_all())
        redis.destroy()
        postgres.destroy()
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture
def processes(site):
    """Stops what a test started, and shows its output when the test failed."""
    since = len(site.started)
    yield site
    print(site.stop_all(since))


@pytest.fixture(scope="module")
def web(site):
    server = site.web()
    yield server
    server.process.stop()
    print(f"----- web -----\n{server.process.output()[-20000:]}")


def job_start(site: Site, wave_id: int) -> int:
    """Save an estimate job as the analysts' page does: queued once committed."""
    return site.python(
        "from analysis.services import estimate_job_create\n"
        "from survey.models import Wave\n"
        f"job = estimate_job_create(wave=Wave.objects.get(pk={wave_id}), {JOB_SPEC})\n"
        "print(job.pk)"
    )


def job_row(site: Site, job_id: int) -> dict:
    columns = (
        "status, attempts, lease_until, started_at, dispatched_at, result, "
        "failure_reason"
    )
    row = site.query(
        f"SELECT {columns}, now() FROM analysis_estimatejob WHERE id = %s", [job_id]
    )[0]
    return dict(zip([*columns.split(", "), "now"], row))


def wait_finished(site: Site, job_id: int, seconds: float = 60) -> dict:
    wait_until(
        lambda: job_row(site, job_id)["status"] in ("succeeded", "failed"),
        seconds,
        f"job {job_id} finished",
        every=0.2,
    )
    return job_row(site, job_id)


def demo_wave(site: Site) -> int:
    return site.value("SELECT id FROM survey_wave ORDER BY id LIMIT 1")


def waiting_on_locks(site: Site) -> int:
    return site.value(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = %s AND wait_event_type = 'Lock'",
        [DATABASE],
    )


class JobHeldHalfWay:
    """Hold the responses table so a job stops half-way, after it claimed its lease
    and while it reads the wave's responses; let go on leaving the block."""

    def __init__(self, site: Site):
        self.site = site

    def __enter__(self):
        self.connection = self.site.postgres.connect(DATABASE)
        self.connection.execute("BEGIN")
        self.connection.execute("LOCK TABLE fielding_response IN ACCESS EXCLUSIVE MODE")
        return self

    def running(self, job_id: int) -> dict:
        """The job's row once its worker is waiting here, in the middle of the job."""
        wait_until(
            lambda: (
                job_row(self.site, job_id)["status"] == "running"
                and waiting_on_locks(self.site) >= 1
            ),
            60,
            f"job {job_id} running and waiting for the responses",
        )
        return job_row(self.site, job_id)

    def __exit__(self, *exc):
        self.connection.execute("ROLLBACK")
        self.connection.close()


def succeeded_lines(*workers) -> list[str]:
    return [
        line
        for worker in workers
        for line in worker.output().splitlines()
        if re.search(r"Estimate job \d+ on wave \d+ succeeded", line)
    ]


def test_the_queue_gives_a_lost_task_back_within_the_hour_and_jobs_hold_a_lease(
    site,
):
    conf = site.python(
        "import json\n"
        "from django.conf import settings\n"
        "from analysis.tasks import run_estimate_job as task\n"
        "from survey.celery import app\n"
        "print(json.dumps({\n"
        "    'acks_late': task.acks_late,\n"
        "    'reject_on_worker_lost': task.reject_on_worker_lost,\n"
        "    'prefetch': app.conf.worker_prefetch_multiplier,\n"
        "    'visibility': app.conf.broker_transport_options['visibility_timeout'],\n"
        "    'lease': settings.JOB_LEASE_SECONDS,\n"
        "}))"
    )

    assert conf["acks_late"] and conf["reject_on_worker_lost"]
    assert conf["prefetch"] == 1
    assert conf["lease"] == LEASE
    # Longer than a busy task's wait before it tries again (one default lease, 120 s),
    # which Redis would otherwise hand out twice; shorter than Redis's default hour.
    assert 120 < conf["visibility"] < 3600


def test_a_job_whose_pool_process_is_killed_is_redelivered_and_waits_out_the_lease(
    processes,
):
    site = processes
    worker = site.worker("pool", pool="prefork")

    with JobHeldHalfWay(site) as hold:
        job_id = job_start(site, demo_wave(site))
        before = hold.running(job_id)
        [pool_process] = worker.children()
        os.kill(pool_process, signal.SIGKILL)

    # Celery puts the task back (acks_late, reject_on_worker_lost) and a new pool
    # process takes it; while the lease lasts it must leave the job alone (it waits
    # and tries again), however soon it arrives.
    while job_row(site, job_id)["now"] < before["lease_until"]:
        row = job_row(site, job_id)
        assert (row["status"], row["attempts"]) == ("running", 1)
        time.sleep(0.2)
    job = wait_finished(site, job_id)

    assert "WorkerLostError" in worker.output()
    assert job["status"] == "succeeded", job["failure_reason"]
    assert job["attempts"] == 2
    assert job["started_at"] >= before["lease_until"]
    assert len(succeeded_lines(worker)) == 1

    # The result is the one an undisturbed run gives.
    again = wait_finished(site, job_start(site, demo_wave(site)))
    assert again["attempts"] == 1
    assert job["result"]["checksum"] == again["result"]["checksum"]
    assert job["result"]["overall"] == again["result"]["overall"]
    assert job["result"]["model"] == again["result"]["model"]


def test_a_job_whose_worker_is_killed_is_taken_over_by_the_sweep_once_the_lease_lapses(
    processes,
):
    site = processes
    first = site.worker("first")

    with JobHeldHalfWay(site) as hold:
        job_id = job_start(site, demo_wave(site))
        before = hold.running(job_id)
        first.kill()

    # Redis hands the dead worker's task out again only after its visibility timeout
    # (ten minutes); the sweep hands the job on, but not before the lease lapses.
    second = site.worker("second", ready=False)
    swept = site.manage("revive_jobs").stdout
    if "Handed on 0" in swept:
        assert job_row(site, job_id)["attempts"] == 1
        wait_until(
            lambda: job_row(site, job_id)["now"] > before["lease_until"],
            LEASE + 5,
            "the lease lapsed",
        )
        swept = site.manage("revive_jobs").stdout
    job = wait_finished(site, job_id)

    assert "Handed on 1" in swept
    assert job["dispatched_at"] >= before["lease_until"]
    assert job["status"] == "succeeded", job["failure_reason"]
    assert job["attempts"] == 2
    assert job["started_at"] >= before["lease_until"]
    assert len(succeeded_lines(first, second)) == 1


def logged_in(web, username: str, password: str) -> requests.Session:
    """A browser session of ``username`` on the live server."""
    browser = requests.Session()
    browser.get(f"{web.base}/accounts/login/")
    reply = browser.post(
        f"{web.base}/accounts/login/",
        data={"username": username, "password": password, **form_token(browser)},
        allow_redirects=False,
    )
    assert reply.status_code == 302, reply.text
    return browser


def form_token(browser: requests.Session) -> dict:
    return {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}


def page_text(reply: requests.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", reply.text))


def test_a_job_started_while_redis_is_down_stays_pending_until_the_sweep(
    processes, web
):
    site = processes
    analyst = logged_in(web, "analyst", "analyst-demo")
    wave_id = demo_wave(site)
    form = {
        "experiment": site.value("SELECT min(id) FROM survey_listexperiment"),
        "by": "gender",
    }

    site.redis.stop()
    try:
        asked = time.monotonic()
        page = analyst.post(
            f"{web.base}/analysis/waves/{wave_id}/estimate/",
            data={**form, **form_token(analyst)},
            timeout=60,
        )
        waited = time.monotonic() - asked
        job_id = int(re.search(r"/analysis/jobs/(\d+)/", page.url)[1])
        status = analyst.get(f"{web.base}/analysis/jobs/{job_id}/status.json").json()
    finally:
        site.redis.start()

    assert page.status_code == 200
    assert waited < 15
    assert "The job queue cannot be reached right now" in page_text(page)
    assert status["status"] == "pending"
    assert job_row(site, job_id)["status"] == "pending"

    # A pending job is handed on again once a lease period has passed since the
    # last try, so a page that polls does not flood a queue that is down.
    worker = site.worker("after-outage", ready=False)
    wait_until(
        lambda: (
            job_row(site, job_id)["now"]
            > job_row(site, job_id)["dispatched_at"] + timedelta(seconds=LEASE)
        ),
        LEASE + 5,
        "a lease period since the job was saved",
    )
    swept = site.manage("revive_jobs").stdout
    job = wait_finished(site, job_id)
    assert "Handed on 1" in swept
    assert job["status"] == "succeeded", job["failure_reason"]
    assert job["attempts"] == 1

    # The web process reaches Redis again by itself: the next job is queued at once.
    page = analyst.post(
        f"{web.base}/analysis/waves/{wave_id}/estimate/",
        data={**form, **form_token(analyst)},
    )
    job_id = int(re.search(r"/analysis/jobs/(\d+)/", page.url)[1])
    assert job_row(site, job_id)["status"] != "pending"
    assert wait_finished(site, job_id)["status"] == "succeeded"
    assert len(succeeded_lines(worker)) == 2


def tablet_response(slot: dict, place: str, n: int) -> dict:
    return {
        "uuid": str(uuid.uuid4()),
        "slot": slot["id"],
        "status": "complete",
        "count": n % 4,
        "place": place,
        "language": "ru",
        "answers": {"gender": str(1 + n % 2), "age": 20 + n % 50},
        "card_shown_at": "2024-05-02T10:03:00Z",
        "started_at": "2024-05-02T10:00:00Z",
        "finished_at": "2024-05-02T10:12:00Z",
    }


def test_a_batch_cut_off_by_a_database_restart_is_stored_once_when_sent_again(
    processes, web
):
    site = processes
    printed = site.manage("register_device", "interviewer", "--label", "Tablet 9")
    tablet = requests.Session()
    tablet.headers["Authorization"] = "Token " + printed.stdout.split()[-1]
    wave_id = demo_wave(site)
    batch = []
    for place in ("almaty", "astana", "aktobe"):
        reply = tablet.post(
            f"{web.base}/api/v1/waves/{wave_id}/reservations/",
            json={"place": place, "count": 50},
        )
        assert reply.status_code == 201, reply.text
        for slot in reply.json()["slots"]:
            batch.append(tablet_response(slot, place, len(batch)))
    sent = {uuid.UUID(item["uuid"]): item["count"] for item in batch}

    def stored() -> dict:
        rows = site.query(
            "SELECT p.client_uuid, r.count FROM fielding_respondent p "
            "JOIN fielding_assignment a ON a.respondent_id = p.id "
            "JOIN fielding_response r ON r.assignment_id = a.id "
            "WHERE p.client_uuid = ANY(%s)",
            [list(sent)],
        )
        return dict(rows)

    def respondents() -> int:
        return site.value(
            "SELECT count(*) FROM fielding_respondent WHERE client_uuid = ANY(%s)",
            [list(sent)],
        )

    first = {}

    def send_first():
        first["reply"] = tablet.post(
            f"{web.base}/api/v1/responses/", json={"responses": batch}, timeout=60
        )

    # Another session holds a slot of the third chunk, so the request stops there
    # with two chunks stored and the third inside its transaction.
    held_slot = batch[2 * CHUNK + 5]["slot"]
    holder = site.postgres.connect(DATABASE)
    holder.execute("BEGIN")
    holder.execute(
        "SELECT 1 FROM fielding_allocationslot WHERE id = %s FOR UPDATE", [held_slot]
    )
    sender = threading.Thread(target=send_first)
    sender.start()
    wait_until(lambda: waiting_on_locks(site) >= 1, 60, "the third chunk waiting")
    site.postgres.restart()
    holder.close()
    sender.join(timeout=60)
    cut_off = stored()

    # The chunk being stored when the database went was rolled back whole.
    assert len(cut_off) == 2 * CHUNK
    assert respondents() == len(cut_off)
    assert first["reply"].status_code == 503
    assert "cannot reach its database" in first["reply"].json()["detail"]

    # Each of the server's threads may hold a connection from before the restart;
    # none may answer with an error because of it.
    reply = tablet.post(f"{web.base}/api/v1/responses/", json={"responses": batch})
    assert reply.status_code == 200, reply.text
    assert {tablet.get(f"{web.base}/api/v1/waves/").status_code for _ in range(8)} == {
        200
    }
    results = [result["result"] for result in reply.json()["results"]]
    assert results.count("duplicate") == len(cut_off)
    assert results.count("created") == len(batch) - len(cut_off)
    assert stored() == sent
    assert respondents() == len(batch)
    assert site.value(
        "SELECT count(*) FROM fielding_allocationslot WHERE device_id = "
        "(SELECT max(id) FROM fielding_accesstoken) AND status = 'used'"
    ) == len(batch)
    assert site.value("SELECT count(*) FROM fielding_heldsubmission") == 0

    # And once more: nothing new.
    reply = tablet.post(f"{web.base}/api/v1/responses/", json={"responses": batch})
    assert {result["result"] for result in reply.json()["results"]} == {"duplicate"}
    assert stored() == sent


def messages_shown(reply: requests.Response) -> list[tuple[str, str]]:
    return re.findall(
        r'<li class="(success|error|warning|info)">(.*?)</li>', page_text(reply)
    )


def test_two_administrators_closing_one_wave_at_once_close_it_once(processes, web):
    site = processes
    wave_id = site.python(
        "from django.contrib.auth import get_user_model\n"
        "from survey.models import Wave\n"
        "from survey.roles import ADMINISTRATOR, groups_ensure\n"
        "from survey.services import wave_open\n"
        "user = get_user_model().objects.create_user(\n"
        "    'second-admin', password='second-admin-pw', is_staff=True)\n"
        "user.groups.add(groups_ensure()[ADMINISTRATOR])\n"
        "pilot = Wave.objects.order_by('id').first()\n"
        "wave = Wave.objects.create(survey=pilot.survey, name='Autumn round')\n"
        "print(wave_open(wave=wave).pk)"
    )
    admins = [
        logged_in(web, "admin", "admin-demo"),
        logged_in(web, "second-admin", "second-admin-pw"),
    ]
    replies = []

    def close(browser):
        replies.append(
            browser.post(
                f"{web.base}/admin/survey/wave/",
                data={
                    "action": "close_waves",
                    "_selected_action": wave_id,
                    "index": 0,
                    "confirmed": 1,
                    **form_token(browser),
                },
                timeout=60,
            )
        )

    # Both requests wait on the wave's row, then go at once.
    with site.postgres.connect(DATABASE) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM survey_wave WHERE id = %s FOR UPDATE", [wave_id])
        threads = [threading.Thread(target=close, args=(a,)) for a in admins]
        for thread in threads:
            thread.start()
        wait_until(lambda: waiting_on_locks(site) >= 2, 30, "both closings waiting")
        holder.execute("ROLLBACK")
    for thread in threads:
        thread.join(timeout=60)

    assert [reply.status_code for reply in replies] == [200, 200]
    shown = sorted(message for reply in replies for message in messages_shown(reply))
    assert [kind for kind, _text in shown] == ["error", "success"]
    assert shown[0][1] == "Wave “Autumn round” is already closed."
    assert shown[1][1] == "Closed “Autumn round”."
    status, closed_at = site.query(
        "SELECT status, closed_at FROM survey_wave WHERE id = %s", [wave_id]
    )[0]
    assert status == "closed" and closed_at is not None
    assert (
        site.value(
            "SELECT count(*) FROM survey_auditevent WHERE action = 'closed' "
            "AND object_type = 'survey.wave' AND object_id = %s",
            [str(wave_id)],
        )
        == 1
    )
