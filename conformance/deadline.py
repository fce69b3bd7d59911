"""The run deadline (safety.run_deadline_seconds): armed at session start, disarmed at the end.

When it passes, the run stops as it does at Ctrl-C (what did not run is reported as untested),
and `conformance run` exits with `EXIT_DEADLINE`.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from conformance.run_state import RunState


class RunDeadline(KeyboardInterrupt):
    """Raised in the main thread when safety.run_deadline_seconds passes: pytest then ends the run
    as it does at Ctrl-C, and the report marks what did not run as untested."""


def arm_deadline(state: RunState, spent: float = 0.0) -> None:
    """Stop the run at safety.run_deadline_seconds as Ctrl-C would, from wherever it is waiting.

    On POSIX a SIGALRM timer raises `RunDeadline` in the main thread, which also breaks a blocking
    socket read; elsewhere a timer thread interrupts the main thread. `spent`: the seconds of the
    run already gone (the reachability check `conformance run` made before pytest started).
    """
    seconds = state.profile.safety.run_deadline_seconds
    left = max(0.001, seconds - spent)

    def expire() -> None:
        state.stopped = f"the run deadline of {seconds:g} s passed"
        state.deadline_passed = True
        state.scheduler.cancel()

    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            expire()
            raise RunDeadline(state.stopped)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, left)

        def disarm() -> None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        state._disarm.append(disarm)
    else:
        import _thread

        def fire() -> None:
            expire()
            _thread.interrupt_main()

        timer = threading.Timer(left, fire)
        timer.daemon = True
        timer.start()
        state._disarm.append(timer.cancel)


def disarm_deadline(state: RunState) -> None:
    for disarm in state._disarm:
        disarm()
    state._disarm.clear()
