"""`thinkswitch triage` whole: the commands of `triage_cmd` plus `report` and `promote`, which
live in their own modules; the command table points here, so they load only with `triage`."""

from __future__ import annotations

from thinkswitch.cli.triage_cmd import triage_app
from thinkswitch.cli.triage_learn_cmd import promote
from thinkswitch.cli.triage_report_cmd import report

triage_app.command("report")(report)
triage_app.command("promote")(promote)

__all__ = ["triage_app"]
