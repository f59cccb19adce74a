"""Respondents, assignments and responses.

A *respondent* is one interview in a wave: where, how and by whom it was made, and the
answers to the covariate questions. An *assignment* gives the respondent an arm of a
list experiment and the item order shown; a *response* holds the count (or why there is
none). A count is stored only for a complete response: a refusal or a "don't know" is
its own status, never a zero, and the database enforces it.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from survey.models import ListExperiment, Settlement, Stratum, Wave, WaveGuarded


class Respondent(WaveGuarded):
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="respondents")
    external_id = models.CharField(
        max_length=100, null=True, blank=True, help_text=_("Unique within the wave.")
    )
    weight = models.FloatField(null=True, blank=True)
    place = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stratum = models.ForeignKey(
        Stratum, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    mode = models.CharField(max_length=10, choices=Wave.MODE_CHOICES, blank=True)
    language = models.CharField(max_length=5, blank=True)
    interviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    client_uuid = models.UUIDField(null=True, blank=True, unique=True)
    answers = models.JSONField(
        default=dict, blank=True, help_text=_("Covariate answers by question code.")
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["wave", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="respondent_external_id_unique_in_wave",
            )
        ]

    def __str__(self):
        return self.external_id or f"respondent {self.pk}"

    def guarded_wave(self) -> Wave:
        return self.wave


class Assignment(WaveGuarded):
    """A respondent's arm in one list experiment and the item order shown.

    ``item_order`` maps each list's code to the item codes in the order shown. The
    source says where the arm came from; simulated rows are labelled as such wherever
    they are shown.
    """

    ALLOCATION = "allocation"
    IMPORT = "import"
    SIMULATION = "simulation"
    SOURCE_CHOICES = [
        (ALLOCATION, _("allocation")),
        (IMPORT, _("import")),
        (SIMULATION, _("simulation")),
    ]

    respondent = models.ForeignKey(
        Respondent, on_delete=models.CASCADE, related_name="assignments"
    )
    experiment = models.ForeignKey(
        ListExperiment, on_delete=models.PROTECT, related_name="assignments"
    )
    arm = models.CharField(max_length=60)
    item_order = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=12, choices=SOURCE_CHOICES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["respondent", "experiment"]
        constraints = [
            models.UniqueConstraint(
                fields=["respondent", "experiment"],
                name="one_assignment_per_experiment",
            )
        ]

    def __str__(self):
        return f"{self.respondent} -> {self.arm}"

    def guarded_wave(self) -> Wave:
        return self.respondent.wave


class Response(WaveGuarded):
    COMPLETE = "complete"
    REFUSED = "refused"
    DONT_KNOW = "dont_know"
    BROKEN_OFF = "broken_off"
    STATUS_CHOICES = [
        (COMPLETE, _("complete")),
        (REFUSED, _("refused")),
        (DONT_KNOW, _("don't know")),
        (BROKEN_OFF, _("broken off")),
    ]

    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="response"
    )
    status = models.CharField(max_length=12, choices=STATUS_CHOICES)
    count = models.PositiveSmallIntegerField(null=True, blank=True)
    second_count = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("The second list's count (double list).")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["assignment"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(status="complete", count__isnull=False)
                    | (
                        ~models.Q(status="complete")
                        & models.Q(count__isnull=True, second_count__isnull=True)
                    )
                ),
                name="count_only_when_complete",
            )
        ]

    def __str__(self):
        return f"{self.assignment}: {self.status} {self.count}"

    def guarded_wave(self) -> Wave:
        return self.assignment.respondent.wave

    def clean(self):
        """A count only when complete, and within the card's range for the arm."""
        if self.status != self.COMPLETE:
            if self.count is not None or self.second_count is not None:
                raise ValidationError(
                    {
                        "count": _(
                            "Only a complete response has a count; leave it empty."
                        )
                    }
                )
            return
        if self.count is None:
            raise ValidationError({"count": _("A complete response needs its count.")})
        experiment = self.assignment.experiment
        top = experiment.items_count() + (0 if self.assignment.arm == "control" else 1)
        if self.count > top:
            raise ValidationError(
                {
                    "count": _("The count on this card is at most %(top)s.")
                    % {"top": top}
                }
            )
