"""Analysis: estimators, estimate jobs and downloads."""
