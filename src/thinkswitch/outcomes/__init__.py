"""Paired outcomes (each question answered both ways) and the metrics computed on them.

Below `triage` and `bench`: triage trains and is judged on these tables, and bench reports
them; neither of those is imported here.
"""
