"""Fielding: respondents, their assignments to arms, and their responses."""
