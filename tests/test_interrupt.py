"""Ctrl-C during a loop: an interrupt that Python swallowed still stops it at the next check."""
import os
import signal

import pytest

from genn_eventprop.interrupt import CtrlC


@pytest.fixture
def sigint_default():
    """Python's own SIGINT handler, whatever the test process inherited (a shell without job control starts
    background commands with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_swallowed_where_it_landed_is_raised_at_the_next_check(sigint_default):
    with CtrlC() as ctrl_c:
        try:   # where Python only prints it (inside a __del__, a callback): lost without the check
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.check()


def test_without_a_ctrl_c_the_check_passes_and_the_handler_is_restored(sigint_default):
    before = signal.getsignal(signal.SIGINT)
    with CtrlC() as ctrl_c:
        ctrl_c.check()
    assert signal.getsignal(signal.SIGINT) is before


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with CtrlC():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
