"""A dead worker's exit code is found even when another thread reaped it first."""

import multiprocessing as mp
import signal
import time

from lambda_hat.scheduler.crash import exit_code as _exit_code


class LateReaped:
    """A process handle whose exit code appears only after a few polls (another thread's
    ``waitpid`` won the race and sets it a moment later)."""

    def __init__(self, code: int, polls: int):
        self.code, self.polls = code, polls

    def join(self, timeout=None):
        self.polls -= 1

    @property
    def exitcode(self):
        return self.code if self.polls <= 0 else None


def test_exit_code_waits_for_a_late_reaper():
    assert _exit_code(LateReaped(-signal.SIGKILL, polls=5)) == -signal.SIGKILL


def test_exit_code_gives_up_on_a_live_process():
    start = time.monotonic()
    assert _exit_code(LateReaped(0, polls=10**9), wait_sec=0.2) is None
    assert time.monotonic() - start < 2.0


def test_exit_code_of_a_killed_real_process():
    proc = mp.get_context("spawn").Process(target=time.sleep, args=(30,))
    proc.start()
    proc.kill()
    assert _exit_code(proc) == -signal.SIGKILL
