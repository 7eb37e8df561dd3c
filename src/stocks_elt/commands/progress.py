"""
Progress bars on the console for the stages that know how far they are (extract,
load), as the ``stocks_elt.pipeline.Progress`` the stages are told about.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from stocks_elt import pipeline


class _Bars:
    """A progress bar per stage on the console, as ``pipeline.Progress``."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int | None, detail: str) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(
                stage, total=total, detail=""
            )
        self._progress.update(task, completed=done, total=total, detail=detail)


@contextmanager
def progress_bars(console: Console | None) -> Iterator[pipeline.Progress | None]:
    """Bars for extract and load on ``console``; None (silence) without one."""
    if console is None:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=True,
    ) as progress:
        yield _Bars(progress)


def one_line(console: Console) -> pipeline.Notice:
    """Tell a message on ``console`` as one line, however narrow the terminal or
    pipe, with no markup read into it."""
    return lambda message: console.print(message, soft_wrap=True, markup=False)
