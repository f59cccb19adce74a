"""Handing a saved job to whatever runs jobs here: Celery if configured, else a thread.

Without ``REDIS_URL`` the job runs in a daemon thread of the web process and updates the
same job row, so the page shows progress the same way. If Redis is configured but
cannot be reached, the job stays ``pending`` with a message saying so; nothing is lost.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from analysis.models import EstimateJob

logger = logging.getLogger(__name__)


def job_dispatch(job_id: int) -> None:
    EstimateJob.objects.filter(pk=job_id).update(dispatched_at=timezone.now())
    if settings.REDIS_URL:
        dispatch_to_celery(job_id)
    else:
        dispatch_to_thread(job_id)


def stalled_jobs(now=None):
    """Jobs nobody is working on: never handed on, lost from a queue or a thread that
    died, or running under a lease that lapsed. Each is handed on again at most once a
    lease period, so a page that polls does not flood a queue that is down."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.JOB_LEASE_SECONDS)
    not_recently = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - lease)
    return EstimateJob.objects.filter(not_recently).filter(
        Q(status=EstimateJob.PENDING)
        | Q(status=EstimateJob.QUEUED)
        | Q(status=EstimateJob.RUNNING, lease_until__lt=now)
    )


def jobs_revive(queryset=None) -> int:
    """Hand every stalled job (of ``queryset``, or all) on again; returns how many."""
    jobs = stalled_jobs()
    if queryset is not None:
        jobs = jobs.filter(pk__in=queryset.values("pk"))
    ids = list(jobs.values_list("pk", flat=True))
    for job_id in ids:
        logger.warning("Estimate job %s had stalled; handing it on again", job_id)
        job_dispatch(job_id)
    return len(ids)


def mark_queued(job_id: int, message: str) -> None:
    EstimateJob.objects.filter(pk=job_id, status=EstimateJob.PENDING).update(
        status=EstimateJob.QUEUED, message=message
    )


def dispatch_to_celery(job_id: int) -> None:
    from analysis.tasks import run_estimate_job

    try:
        run_estimate_job.apply_async(
            args=[job_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE, retry=False
        )
    except Exception:
        logger.exception("Job queue unreachable; estimate job %s stays pending", job_id)
        EstimateJob.objects.filter(pk=job_id, status=EstimateJob.PENDING).update(
            message=_(
                "The job queue cannot be reached right now. The job is saved and will "
                "start when the queue is back."
            )
        )
        return
    mark_queued(job_id, _("Waiting for a worker."))


def run_in_thread(job_id: int) -> None:
    from analysis.services import estimate_job_run

    try:
        estimate_job_run(job_id)
    finally:
        connection.close()


def dispatch_to_thread(job_id: int) -> None:
    mark_queued(job_id, _("Waiting to start."))
    thread = threading.Thread(
        target=run_in_thread, args=(job_id,), name=f"estimate-job-{job_id}", daemon=True
    )
    thread.start()
