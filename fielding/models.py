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


class AccessToken(models.Model):
    """A device's or a person's key to the API; only its SHA-256 hash is stored.

    A device token belongs to a tablet registered to an interviewer; a personal token
    lets an analyst or administrator script the API. Revoking refuses the next request.
    """

    DEVICE = "device"
    PERSONAL = "personal"
    KIND_CHOICES = [(DEVICE, _("tablet")), (PERSONAL, _("personal"))]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    kind = models.CharField(max_length=10, choices=KIND_CHOICES, default=DEVICE)
    label = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.label} ({self.user.get_username()})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


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
    payload_hash = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text=_(
            "Fingerprint of what a tablet sent, to tell a resend from a change."
        ),
    )
    late = models.BooleanField(
        default=False, help_text=_("Arrived long after its slot was reserved.")
    )
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
                violation_error_message=_(
                    "This respondent id is already used in the wave."
                ),
            )
        ]

    def __str__(self):
        return self.external_id or f"respondent {self.pk}"

    def guarded_wave(self) -> Wave:
        return self.wave

    def clean(self):
        """What the admin may not store: answers that are not a mapping, a weight that
        is not positive, a stratum of another wave or a language the survey lacks."""
        errors = {}
        if not isinstance(self.answers, dict):
            errors["answers"] = _('Answers are a mapping such as {"gender": "1"}.')
        if self.weight is not None and not self.weight > 0:
            errors["weight"] = _("A weight must be a positive number.")
        if self.stratum_id and self.wave_id and self.stratum.wave_id != self.wave_id:
            errors["stratum"] = _("This stratum belongs to another wave.")
        if (
            self.language
            and self.wave_id
            and self.language not in self.wave.survey.languages
        ):
            errors["language"] = _("The survey has no such language.")
        if errors:
            raise ValidationError(errors)


class AllocationSlot(WaveGuarded):
    """One position of a stratum's allocation sequence in a wave.

    Slots are made from the wave's seed and plan (``fielding.sequences``) ahead of use
    and handed out strictly in order, each once: the unique (wave, experiment, stratum,
    position) constraint and the stratum row lock make a double hand-out impossible.
    A used slot records who allocated it, with which device and when; the respondent
    records where. A released slot is ``skipped`` and never handed out again.
    """

    AVAILABLE = "available"
    RESERVED = "reserved"
    USED = "used"
    SKIPPED = "skipped"
    STATUS_CHOICES = [
        (AVAILABLE, _("available")),
        (RESERVED, _("reserved by a device")),
        (USED, _("used")),
        (SKIPPED, _("skipped")),
    ]

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="slots")
    experiment = models.ForeignKey(
        ListExperiment, on_delete=models.CASCADE, related_name="slots"
    )
    stratum = models.ForeignKey(Stratum, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveIntegerField()
    block = models.PositiveIntegerField()
    arm = models.CharField(max_length=60)
    item_order = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=AVAILABLE)
    allocated_at = models.DateTimeField(null=True, blank=True)
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    device_label = models.CharField(max_length=100, blank=True)
    device = models.ForeignKey(
        AccessToken,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="slots",
    )
    reserved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["wave", "experiment", "stratum", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "experiment", "stratum", "position"],
                name="slot_position_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["wave", "experiment", "stratum", "status", "position"],
                name="slot_next_available",
            )
        ]

    def __str__(self):
        return f"{self.stratum.code} #{self.position}: {self.arm} ({self.status})"

    def guarded_wave(self) -> Wave:
        return self.wave


def count_tops(
    experiment: ListExperiment, arm: str, item_order: dict | None
) -> dict[str, int]:
    """The highest count on each list a respondent of ``arm`` answers, first list first.

    The order shown says it (a card's length); imported and simulated assignments have
    none, so the experiment's lists say it: J, and J + 1 on the list with the sensitive
    item. A double list has two entries, any other design one.
    """
    item_order = item_order if isinstance(item_order, dict) else {}
    codes = [item_list.code for item_list in experiment.lists.all()]
    double = experiment.design == ListExperiment.DOUBLE
    if not double:
        codes = codes[:1]
    tops = {}
    for code in codes or [""]:
        shown = item_order.get(code)
        if shown is None and not double:
            shown = next(iter(item_order.values()), None)
        if shown:
            tops[code] = len(shown)
        else:
            carries = arm == code if double else arm != "control"
            tops[code] = experiment.items_count(code or None) + int(carries)
    return tops


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
    slot = models.OneToOneField(
        AllocationSlot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assignment",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    card_shown_at = models.DateTimeField(null=True, blank=True)

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

    def count_tops(self) -> dict[str, int]:
        return count_tops(self.experiment, self.arm, self.item_order)


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
        """A count only when complete, within the card's range for the arm; a double
        list's complete response has both lists' counts (``count`` is the first
        list's)."""
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
        double = self.assignment.experiment.design == ListExperiment.DOUBLE
        if self.second_count is not None and not double:
            raise ValidationError(
                {"second_count": _("Only a double-list experiment has a second count.")}
            )
        if double and self.second_count is None:
            raise ValidationError(
                {
                    "second_count": _(
                        "A complete double-list response needs the second list's count."
                    )
                }
            )
        tops = list(self.assignment.count_tops().values())
        errors = {}
        for name, value, top in zip(
            ["count", "second_count"], [self.count, self.second_count], tops
        ):
            if value > top:
                errors[name] = _("The count on this card is at most %(top)s.") % {
                    "top": top
                }
        if errors:
            raise ValidationError(errors)


class WebLink(WaveGuarded):
    """A single-use link for web self-completion; only a hash of its token is kept.

    The link is used up when its respondent submits the last page; until then, opening
    it again continues the same interview where it stopped.
    """

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="web_links")
    stratum = models.ForeignKey(
        Stratum, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    respondent = models.OneToOneField(
        Respondent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="web_link",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["wave", "id"]

    def __str__(self):
        return f"web link {self.pk} ({'used' if self.used_at else 'open'})"

    def guarded_wave(self) -> Wave:
        return self.wave


class HeldSubmission(models.Model):
    """A response from a tablet that was not stored in its wave, kept for a decision.

    A *conflict* came under a known uuid with different content (the first version
    stays; an administrator may accept this one as an audited correction); a response
    for a *closed wave*, or made on a slot an administrator *released*, is kept here,
    outside the wave's data, never dropped.
    """

    CONFLICT = "conflict"
    WAVE_CLOSED = "wave_closed"
    SLOT_RELEASED = "slot_released"
    KIND_CHOICES = [
        (CONFLICT, _("conflict")),
        (WAVE_CLOSED, _("wave closed")),
        (SLOT_RELEASED, _("slot released")),
    ]
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    RESOLUTION_CHOICES = [
        (OPEN, _("awaiting a decision")),
        (ACCEPTED, _("accepted as a correction")),
        (DISMISSED, _("dismissed")),
    ]

    uuid = models.UUIDField()
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="held")
    token = models.ForeignKey(
        AccessToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(
        max_length=10, choices=RESOLUTION_CHOICES, default=OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    previous = models.JSONField(
        null=True, blank=True, help_text=_("The stored version before a correction.")
    )

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.uuid}"
