"""Progress for long CLI work: a rich or tqdm bar when one is installed and the stream is a
terminal (``pip install fastinit[progress]``), otherwise one plain line per step."""

from __future__ import annotations

import sys


class Progress:
    def __init__(self, total: int, description: str, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.done = total, 0
        self.description = description
        self._rich = self._tqdm = None
        if bool(getattr(self.stream, "isatty", lambda: False)()):
            try:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
                from rich.progress import TextColumn, TimeElapsedColumn
            except ImportError:
                try:
                    from tqdm import tqdm
                except ImportError:
                    pass
                else:
                    self._tqdm = tqdm(total=total, file=self.stream, leave=False, desc=description)
            else:
                self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                          MofNCompleteColumn(), TimeElapsedColumn(),
                                          console=Console(file=self.stream), transient=True)
                self._rich.start()
                self._task = self._rich.add_task(description, total=total)

    def step(self, label: str) -> None:
        """Announces the step now starting."""
        if self._rich is not None:
            self._rich.update(self._task, completed=self.done, description=label)
        elif self._tqdm is not None:
            self._tqdm.set_description_str(label, refresh=False)
            self._tqdm.update(self.done - self._tqdm.n)
        else:
            print(f"{self.description} [{self.done + 1}/{self.total}] {label}", file=self.stream,
                  flush=True)
        self.done += 1

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._tqdm is not None:
            self._tqdm.close()
