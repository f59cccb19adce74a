"""The one error type of the fielding app."""


class FieldingError(Exception):
    """A respondent, assignment or response that cannot be stored as given.

    ``field`` names the input the error is about, when there is one, so an API can
    report it under that field.
    """

    def __init__(self, message: str = "", *, field: str = ""):
        self.field = field
        super().__init__(message)
