"""Handing a saved job to whatever runs jobs here: Celery if configured, else a thread.

Without ``REDIS_URL`` the job runs in a daemon thread of the web process and updates the
same job row, so the page shows progress the same way. If Redis is configured but
cannot be reached, the job stays ``pending`` with a message saying so; nothing is lost.
"""

import logging
import threading

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from analysis.models import EstimateJob

logger = logging.getLogger(__name__)


def job_dispatch(job_id: int) -> None:
    if settings.REDIS_URL:
        dispatch_to_celery(job_id)
    else:
        dispatch_to_thread(job_id)


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
