"""The one error type of the survey app, raised by its services and models."""

from django.utils.translation import gettext as _


class SurveyError(Exception):
    """A change to a survey, list experiment or wave that cannot be made as asked."""


class WaveClosedError(SurveyError):
    def __init__(self, wave_name: str):
        super().__init__(
            _("Wave “%(wave)s” is closed and cannot be changed.") % {"wave": wave_name}
        )
