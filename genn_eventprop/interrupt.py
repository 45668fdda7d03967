"""Ctrl-C that always stops a long loop.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be. Raised inside a __del__
method or a callback, that exception is only printed ("Exception ignored in ...") and the program goes on, so
a Ctrl-C can be lost. While a CtrlC is active, the handler also remembers the signal, and the loop calls
check() at safe points (between batches): a swallowed interrupt then stops it there.
"""
from __future__ import annotations

import signal
import threading


class CtrlC:
    def __init__(self):
        self.seen = False
        self._previous = None

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:   # an ignored or custom handler is left alone
                self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.seen = True
        raise KeyboardInterrupt

    def check(self):
        """Raise KeyboardInterrupt if a Ctrl-C arrived (even one that was swallowed)."""
        if self.seen:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> bool:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
