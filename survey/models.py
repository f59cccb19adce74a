"""Instruments and waves: surveys, list experiments, cards, questions, places, waves.

A survey names its languages; every text a respondent sees exists once per language.
Texts are versioned; a wave freezes a copy of its cards when it opens, so a later edit
never changes what an earlier wave showed. A closed wave, and everything recorded in it,
refuses every save and delete, whoever asks (admin, command or service).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from survey.errors import SurveyError, WaveClosedError

LANGUAGE_CHOICES = [("en", "English"), ("ru", "Русский"), ("kk", "Қазақша")]
LANGUAGE_CODES = [code for code, _label in LANGUAGE_CHOICES]


def validate_languages(value):
    if not isinstance(value, list) or not value:
        raise ValidationError(_("List at least one language."))
    unknown = [code for code in value if code not in LANGUAGE_CODES]
    if unknown:
        raise ValidationError(
            _("Unknown language codes: %(codes)s. Use en, ru or kk.")
            % {"codes": ", ".join(map(str, unknown))}
        )


class Survey(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    languages = models.JSONField(default=list, validators=[validate_languages])
    export_identifiers = models.BooleanField(
        default=False,
        help_text=_(
            "Include respondent ids and interviewer user names in microdata exports. "
            "Off, interviewers appear by number and respondent ids are left out."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ListExperiment(models.Model):
    """One list experiment: control lists, sensitive items and the card's wording.

    Arms are ``control`` plus one per sensitive item, named by the item's code; with a
    single sensitive item they are ``control`` and ``treatment``. In a double-list
    design there are two control lists and every respondent answers both: the arm names
    the list that carries the sensitive item, the other list is answered as control.
    """

    SINGLE = "single"
    DOUBLE = "double"
    DESIGN_CHOICES = [(SINGLE, _("single list")), (DOUBLE, _("double list"))]

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="experiments"
    )
    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    design = models.CharField(max_length=10, choices=DESIGN_CHOICES, default=SINGLE)
    position = models.PositiveIntegerField(default=1)
    direct_question = models.ForeignKey(
        "CovariateQuestion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_(
            "A coded question asking the sensitive item directly, after the lists; "
            "its choice 1 is yes and 0 is no."
        ),
    )

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "code"], name="experiment_code_unique_in_survey"
            )
        ]

    def __str__(self):
        return f"{self.survey.code}/{self.code}"

    def clean(self):
        """The direct question belongs to the same survey and is a yes/no question
        coded 1 and 0, as the direct-question estimators read it."""
        question = self.direct_question
        if question is None:
            return
        if question.survey_id != self.survey_id:
            raise ValidationError(
                {"direct_question": _("This question belongs to another survey.")}
            )
        codes = set(question.choices.values_list("code", flat=True))
        if question.kind != CovariateQuestion.CODED or codes != {"0", "1"}:
            raise ValidationError(
                {
                    "direct_question": _(
                        "A direct question is coded with exactly two choices, "
                        "1 (yes) and 0 (no)."
                    )
                }
            )

    def sensitive_items(self):
        return [item for item in self.items.all() if item.kind == Item.SENSITIVE]

    def arms(self) -> list[str]:
        if self.design == self.DOUBLE:
            return [item_list.code for item_list in self.lists.all()]
        sensitive = self.sensitive_items()
        if len(sensitive) == 1:
            return ["control", "treatment"]
        return ["control"] + [item.code for item in sensitive]

    def control_items(self, list_code: str | None = None):
        items = [item for item in self.items.all() if item.kind == Item.CONTROL]
        if list_code is not None:
            items = [item for item in items if item.item_list.code == list_code]
        return items

    def items_count(self, list_code: str | None = None) -> int:
        """J: the number of control items on a list (the first list by default)."""
        if list_code is None:
            first = self.lists.order_by("position", "id").first()
            list_code = first.code if first else None
        return len(self.control_items(list_code))


class ItemList(models.Model):
    """A list of control items. Single-list experiments have one, double lists two."""

    experiment = models.ForeignKey(
        ListExperiment, on_delete=models.CASCADE, related_name="lists"
    )
    code = models.SlugField(max_length=30)
    position = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["experiment", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "code"], name="list_code_unique_in_experiment"
            )
        ]

    def __str__(self):
        return f"{self.experiment} list {self.code}"


class Item(models.Model):
    CONTROL = "control"
    SENSITIVE = "sensitive"
    KIND_CHOICES = [(CONTROL, _("control item")), (SENSITIVE, _("sensitive item"))]

    experiment = models.ForeignKey(
        ListExperiment, on_delete=models.CASCADE, related_name="items"
    )
    item_list = models.ForeignKey(
        ItemList,
        on_delete=models.CASCADE,
        related_name="items",
        null=True,
        blank=True,
        help_text=_("The list a control item belongs to; empty for a sensitive item."),
    )
    code = models.SlugField(max_length=60)
    kind = models.CharField(max_length=10, choices=KIND_CHOICES)
    position = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["experiment", "kind", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "code"], name="item_code_unique_in_experiment"
            )
        ]

    def __str__(self):
        return self.code

    def clean(self):
        if self.kind == self.CONTROL and self.item_list_id is None:
            raise ValidationError({"item_list": _("A control item belongs to a list.")})
        if self.kind == self.SENSITIVE and self.item_list_id is not None:
            raise ValidationError(
                {
                    "item_list": _(
                        "A sensitive item is added to a list, not part of one."
                    )
                }
            )


class CardText(models.Model):
    """One text of a card in one language: an item's wording or the instructions.

    ``version`` goes up on every change of wording. ``needs_review`` marks a
    translation that a native speaker has not yet checked.
    """

    experiment = models.ForeignKey(
        ListExperiment, on_delete=models.CASCADE, related_name="texts"
    )
    item = models.ForeignKey(
        Item,
        on_delete=models.CASCADE,
        related_name="texts",
        null=True,
        blank=True,
        help_text=_("Empty for the card's instructions."),
    )
    language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES)
    text = models.TextField()
    version = models.PositiveIntegerField(default=1, editable=False)
    needs_review = models.BooleanField(
        default=False,
        help_text=_("A translation awaiting review by a native speaker."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["experiment", "item", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "language"],
                condition=models.Q(item__isnull=False),
                name="item_text_unique_per_language",
            ),
            models.UniqueConstraint(
                fields=["experiment", "language"],
                condition=models.Q(item__isnull=True),
                name="instructions_unique_per_language",
            ),
        ]

    def __str__(self):
        what = self.item.code if self.item_id else "instructions"
        return f"{what} [{self.language}] v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk:
            previous = CardText.objects.filter(pk=self.pk).values_list(
                "text", flat=True
            )
            if previous and previous[0] != self.text:
                self.version += 1
        super().save(*args, **kwargs)


validate_variable_name = RegexValidator(
    r"^[^\s,:]+$",
    _("Use a name without spaces, commas or colons (it names a column and a flag)."),
)


class CovariateQuestion(models.Model):
    """A background question: coded single choice (with recodes) or a number.

    The code may be any column name without spaces, commas or colons (``mex.male``,
    ``пол``), so imported files keep their own names.
    """

    CODED = "coded"
    NUMERIC = "numeric"
    KIND_CHOICES = [(CODED, _("coded single choice")), (NUMERIC, _("number"))]

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="questions"
    )
    code = models.CharField(max_length=60, validators=[validate_variable_name])
    kind = models.CharField(max_length=10, choices=KIND_CHOICES, default=CODED)
    position = models.PositiveIntegerField(default=1)
    texts = models.JSONField(
        default=dict, blank=True, help_text=_("Wording by language.")
    )
    needs_review = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Languages whose wording awaits review by a native speaker."),
    )
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "code"], name="question_code_unique_in_survey"
            )
        ]

    def __str__(self):
        return self.code


class Choice(models.Model):
    question = models.ForeignKey(
        CovariateQuestion, on_delete=models.CASCADE, related_name="choices"
    )
    code = models.CharField(max_length=60)
    position = models.PositiveIntegerField(default=1)
    labels = models.JSONField(
        default=dict, blank=True, help_text=_("Label by language.")
    )

    class Meta:
        ordering = ["question", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "code"], name="choice_code_unique_in_question"
            )
        ]

    def __str__(self):
        return f"{self.question.code}={self.code}"

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or self.labels.get("en") or self.code


class Recode(models.Model):
    """A named grouping of a coded question's choices, used as a breakdown.

    ``mapping`` sends choice codes to level names, e.g. education codes 5 and 6 to
    ``university``; a code left out of the mapping is missing for this recode.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="recodes")
    question = models.ForeignKey(
        CovariateQuestion, on_delete=models.CASCADE, related_name="recodes"
    )
    name = models.CharField(max_length=60, validators=[validate_variable_name])
    mapping = models.JSONField(default=dict)
    labels = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'Each level\'s label by language, e.g. {"university": {"en": "University"}}.'
        ),
    )

    class Meta:
        ordering = ["survey", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "name"], name="recode_name_unique_in_survey"
            )
        ]

    def __str__(self):
        return self.name

    def levels(self) -> list[str]:
        """Level names in the order of the choices they come from."""
        return list(dict.fromkeys(self.mapping.values()))

    def level_label(self, level: str, language: str = "en") -> str:
        labels = self.labels.get(level, {})
        return labels.get(language) or labels.get("en") or level

    def clean(self):
        if self.question_id and self.question.kind != CovariateQuestion.CODED:
            raise ValidationError({"question": _("Only coded questions have recodes.")})
        if not isinstance(self.mapping, dict) or not self.mapping:
            raise ValidationError({"mapping": _("Map at least one choice code.")})
        if self.question_id:
            known = set(self.question.choices.values_list("code", flat=True))
            unknown = sorted(set(map(str, self.mapping)) - known)
            if unknown:
                raise ValidationError(
                    {
                        "mapping": _("Not choices of %(question)s: %(codes)s")
                        % {"question": self.question.code, "codes": ", ".join(unknown)}
                    }
                )


class Region(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Settlement(models.Model):
    """A city or village: where an interview took place (fielding metadata)."""

    CITY = "city"
    VILLAGE = "village"
    KIND_CHOICES = [(CITY, _("city")), (VILLAGE, _("village"))]

    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="settlements"
    )
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=KIND_CHOICES, default=CITY)
    official_code = models.CharField(
        max_length=30,
        blank=True,
        help_text=_("Official statistical code, where known."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class WaveQuerySet(models.QuerySet):
    def open_for_changes(self):
        return self.exclude(status=Wave.CLOSED)


class Wave(models.Model):
    """One round of fieldwork of a survey: draft -> fielding -> closed."""

    DRAFT = "draft"
    FIELDING = "fielding"
    CLOSED = "closed"
    STATUS_CHOICES = [
        (DRAFT, _("draft")),
        (FIELDING, _("fielding")),
        (CLOSED, _("closed")),
    ]
    TABLET = "tablet"
    WEB = "web"
    MODE_CHOICES = [(TABLET, _("tablet interview")), (WEB, _("web self-completion"))]
    CLUSTER_NONE = "none"
    CLUSTER_PLACE = "place"
    CLUSTER_CHOICES = [
        (CLUSTER_NONE, _("none")),
        (CLUSTER_PLACE, _("place of interview")),
    ]

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="waves")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=DRAFT)
    modes = models.JSONField(default=list, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True, editable=False)
    plan = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'Randomization plan, e.g. {"kind": "blocked", "ratio": [1, 1], '
            '"block_sizes": [4, 6]}. kind: simple (with "p", the treatment '
            "probability), complete (exact shares of each stratum's quota) or "
            "blocked; ratio: shares in the order of the arms (control first); "
            '"shuffle_items": true shuffles the items per respondent; "seed" fixes '
            "the seed recorded when the wave opens (drawn at random otherwise)."
        ),
    )
    cluster = models.CharField(
        max_length=10, choices=CLUSTER_CHOICES, default=CLUSTER_NONE
    )
    frozen_cards = models.JSONField(null=True, blank=True, editable=False)
    interviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="waves_assigned"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = WaveQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.status == self.CLOSED

    def stored_status(self) -> str | None:
        if self.pk is None:
            return None
        return Wave.objects.filter(pk=self.pk).values_list("status", flat=True).first()

    def refuse_if_closed(self):
        """Refuse a change when the wave, as stored, is closed."""
        if self.stored_status() == self.CLOSED:
            raise WaveClosedError(self.name)

    def save(self, *args, **kwargs):
        self.refuse_if_closed()
        self.refuse_plan_change()
        super().save(*args, **kwargs)

    def refuse_plan_change(self):
        """Once fieldwork starts, the plan and seed that made its sequences are fixed."""
        if self.pk is None:
            return
        stored = (
            Wave.objects.filter(pk=self.pk).values("status", "plan", "seed").first()
        )
        if stored and stored["status"] != self.DRAFT:
            if stored["plan"] != self.plan or stored["seed"] != self.seed:
                raise SurveyError(
                    _("The randomization plan of “%(wave)s” is frozen since it opened.")
                    % {"wave": self.name}
                )

    def delete(self, *args, **kwargs):
        self.refuse_if_closed()
        return super().delete(*args, **kwargs)

    def clean(self):
        if not isinstance(self.plan, dict):
            raise ValidationError(
                {"plan": _('The plan is an object such as {"kind": "blocked"}.')}
            )
        unknown = [
            mode for mode in self.modes or [] if mode not in (self.TABLET, self.WEB)
        ]
        if unknown:
            raise ValidationError({"modes": _("Modes are tablet and web.")})


class WaveGuarded(models.Model):
    """A row recorded in a wave: read-only once the wave is closed."""

    class Meta:
        abstract = True

    def guarded_wave(self) -> Wave:
        raise NotImplementedError

    def refuse_if_closed(self):
        """Refuse if the row's wave is closed, now or as stored (no moving rows out)."""
        self.guarded_wave().refuse_if_closed()
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).first()
            if stored is not None:
                stored.guarded_wave().refuse_if_closed()

    def save(self, *args, **kwargs):
        self.refuse_if_closed()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self.refuse_if_closed()
        return super().delete(*args, **kwargs)


class Stratum(WaveGuarded):
    """A named group of settlements in a wave's plan, with its quota and design weight.

    A stratum marked ``is_rest`` takes every settlement no other stratum names.
    """

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="strata")
    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    settlements = models.ManyToManyField(Settlement, blank=True, related_name="strata")
    is_rest = models.BooleanField(
        default=False, help_text=_("Holds every settlement no other stratum names.")
    )
    quota = models.PositiveIntegerField(null=True, blank=True)
    design_weight = models.FloatField(null=True, blank=True)
    position = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["wave", "position", "id"]
        verbose_name_plural = "strata"
        constraints = [
            models.UniqueConstraint(fields=["wave", "code"], name="stratum_code_unique")
        ]

    def __str__(self):
        return self.name

    def guarded_wave(self) -> Wave:
        return self.wave

    def save(self, *args, **kwargs):
        """A stratum's code seeds its allocation stream: fixed once the wave opens."""
        if self.pk is not None and self.wave.status != Wave.DRAFT:
            stored = Stratum.objects.filter(pk=self.pk).values_list("code", flat=True)
            if stored and stored[0] != self.code:
                raise SurveyError(
                    _("The code of stratum “%(s)s” is fixed since its wave opened.")
                    % {"s": self.name}
                )
        super().save(*args, **kwargs)


class AuditEvent(models.Model):
    """Who opened, closed, edited, exported or deleted what, and when.

    Rows are only ever added: the admin shows them read-only, so the log can be
    trusted as a record of access to survey data about people.
    """

    OPENED = "opened"
    CLOSED = "closed"
    CREATED = "created"
    EDITED = "edited"
    EXPORTED = "exported"
    DELETED = "deleted"
    ACTION_CHOICES = [
        (OPENED, _("opened")),
        (CLOSED, _("closed")),
        (CREATED, _("created")),
        (EDITED, _("edited")),
        (EXPORTED, _("exported")),
        (DELETED, _("deleted")),
    ]

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=10, choices=ACTION_CHOICES)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=60, blank=True)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.object_type}"
        )
