"""Progress bars on stderr (tqdm), silent when not on a terminal unless forced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm


@contextmanager
def stage_bar(desc: str, enabled: bool | None = None) -> Iterator[Callable[[float, str], None]]:
    """A 0-100 % bar driven by ``report(fraction, stage_text)`` calls."""
    bar = tqdm(total=100, desc=desc, unit="%", disable=None if enabled is None else not enabled,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def report(fraction: float, text: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(text, refresh=False)
        bar.refresh()

    try:
        yield report
    finally:
        bar.close()
