"""The evaluation harness: suites, answer checking, runs, metrics and reports."""
