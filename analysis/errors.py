"""The one error type of the analysis app."""


class AnalysisError(Exception):
    """An estimate that cannot be computed from the data or specification given."""
