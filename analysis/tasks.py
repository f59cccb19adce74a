"""Celery tasks: thin wrappers that take an id and call a service."""

from celery import shared_task

from analysis.services import estimate_job_run


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_estimate_job(job_id: int) -> None:
    estimate_job_run(job_id)
