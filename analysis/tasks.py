"""Celery tasks: thin wrappers that take an id and call a service."""

from celery import shared_task
from django.conf import settings

from analysis.services import estimate_job_run

# A duplicate delivery that finds a live run waits a lease period and looks again: by
# then the live run has finished (nothing to do) or died (its lease lapsed: take over).
BUSY_RETRIES = 5


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_estimate_job(self, job_id: int) -> None:
    if not estimate_job_run(job_id):
        raise self.retry(countdown=settings.JOB_LEASE_SECONDS, max_retries=BUSY_RETRIES)
