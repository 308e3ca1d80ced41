"""The report of an apply stopped part-way: a state or journal that cannot be written, the
account key refused or the API gone (`RUN_ERRORS`), an interrupt, a bug. Whatever stopped it
and wherever that was raised (an interrupt in one of the run's tasks never reaches the others:
asyncio stops the loop first), `engine.apply.run` sees it last, and hands it here: every
account's results so far, as they landed, each marked stopped part-way with why, go to the
report file (`--report-out`) and the job summary, as a run that ends writes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from reconciler.api import unsettled
from reconciler.core.errors import EhkeysError
from reconciler.engine.applied import stop_reason
from reconciler.engine.apply_account import AccountApply
from reconciler.engine.console import ApplyConsole
from reconciler.render import apply as applyrender
from reconciler.state.report_file import ReportFile


@dataclass
class Sending:
    """A run's accounts once they are made (none once the run has ended and reported itself),
    and where its report goes."""

    console: ApplyConsole
    units: Sequence[AccountApply] = ()
    report_out: ReportFile | None = None

    def stopped(self, exc: BaseException) -> None:
        """The report of the run `exc` stopped, once it began sending; one stopped before
        (planning, the question) writes none: its error says that nothing was sent. Nothing
        here masks `exc`: a report that cannot be written is a warning."""
        if all(unit.heard is None for unit in self.units):
            return
        why = stop_reason(exc)
        each = [unit.applied or unit.part_way(why) for unit in self.units]
        parts = [(a.plan.account, a.report, a.review, a.stopped) for a in each]
        unchecked = unsettled.pending()  # what stderr names next: the writes never seen through

        def write(out: TextIO) -> None:
            applyrender.markdown_all(parts, out, unchecked)

        try:
            if self.report_out is not None:
                self.report_out.write(write)
            self.console.reported(write)
        except BaseException as also:  # a second Ctrl-C too: what stopped the run is said
            said = str(also) if isinstance(also, EhkeysError) else type(also).__name__
            self.console.warning(f"the report of the run stopped part-way was not written: {said}")
