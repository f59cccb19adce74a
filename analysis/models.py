"""Estimate jobs: what was asked, on which responses, and what came out.

A job row moves pending -> queued -> running -> succeeded | failed. ``pending`` means
saved but not yet handed to a queue (Redis down, say); a periodic sweep or the next
start hands it on. A running job holds a lease it renews as it works, so a task
delivered twice never runs beside a live one.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from survey.models import ListExperiment, Wave


class EstimateJob(models.Model):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STATUS_CHOICES = [
        (PENDING, _("pending")),
        (QUEUED, _("queued")),
        (RUNNING, _("running")),
        (SUCCEEDED, _("succeeded")),
        (FAILED, _("failed")),
    ]
    FINISHED = (SUCCEEDED, FAILED)

    ESTIMATE = "estimate"
    COMPARE = "compare"
    REHEARSAL = "rehearsal"
    KIND_CHOICES = [
        (ESTIMATE, _("estimate")),
        (COMPARE, _("change between waves")),
        (REHEARSAL, _("rehearsal by simulation")),
    ]

    kind = models.CharField(max_length=10, choices=KIND_CHOICES, default=ESTIMATE)
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="jobs")
    earlier_wave = models.ForeignKey(
        Wave,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("For a change between waves: the earlier wave; ``wave`` is later."),
    )
    experiment = models.ForeignKey(
        ListExperiment, on_delete=models.CASCADE, related_name="jobs"
    )
    specification = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PENDING)
    progress = models.FloatField(default=0.0)
    message = models.TextField(blank=True)
    failure_reason = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    responses_used = models.PositiveIntegerField(null=True, blank=True)
    responses_checksum = models.CharField(max_length=64, blank=True)
    software_version = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"estimate {self.pk} on {self.wave} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
