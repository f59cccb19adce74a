"""The one error type of the fielding app."""


class FieldingError(Exception):
    """A respondent, assignment or response that cannot be stored as given."""
