"""Progress bars (tqdm) on a terminal: batches of an epoch, evaluation, the cochlea encoding, data loading.

tqdm draws one bar on stderr with the rate and the time left, redrawn in place, and turns itself off
when stderr is not a terminal (CI, a log file, a pipe): there the output stays one line per epoch. The
environment variable GENN_EVENTPROP_PROGRESS=0 turns the bars off on a terminal too, =1 on in a pipe.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable, Optional


def enabled() -> Optional[bool]:
    """False: no bars; None: tqdm's own rule (bars only when stderr is a terminal)."""
    flag = os.environ.get("GENN_EVENTPROP_PROGRESS", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    if flag in ("1", "true", "yes", "on"):
        return True
    return None


def bar(iterable: Optional[Iterable] = None, desc: str = "", total: Optional[int] = None, unit: str = "it"):
    """A tqdm bar over iterable (or a manual one with total), removed when done (leave=False)."""
    from tqdm.auto import tqdm
    on = enabled()
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, dynamic_ncols=True, file=sys.stderr,
                disable=(not on) if on is not None else None)
