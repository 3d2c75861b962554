"""Process-wide tuning, applied only by the CLI or on explicit request (``fit(..., tune_process=True)``).

**Freed memory is kept** (:func:`keep_freed_memory`). A training step allocates
and frees the same large temporaries every step. glibc's malloc serves blocks
above its mmap threshold (128 KiB at first) with fresh ``mmap`` pages and unmaps
them on ``free``, so every step pays hundreds of page faults to touch new
memory: measured here, ~300 minor faults per step of a batch-256 RNN, about a
third of its time. Raising the mmap and trim thresholds (``mallopt``) lets freed
blocks be reused. Harmless (memory is reused, not leaked); a no-op off glibc.

**BLAS threads are chosen by measurement** (:class:`ThreadTuner`). OpenBLAS's
worker threads spin while they wait for each other; when another program keeps
one of the cores busy, a product split over all cores waits for the slowest
thread, and training ran 4.5x slower with 2 threads than with 1 on this 2-core
machine (BENCHMARKS.md). The tuner times a few steps with one thread and with
the BLAS default, uses the faster, and re-checks at growing intervals (3 s, 6 s,
... at most 60 s), so it follows a competing program that starts or stops.

**Several networks train at once in separate processes** (:func:`run_parallel`;
``--ensemble`` and ``--folds``). A one-thread product keeps its core busy with no
waiting for another thread, so two networks side by side, one BLAS thread each,
finish sooner than one after the other with both cores each: 1.28x for two
LSTM-512s on this 2-core machine (BENCHMARKS.md, ``benchmarks/parallel.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import multiprocessing
import os
import signal
import statistics
import sys
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_malloc_done = False


def keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Raise glibc's mmap and trim thresholds once per process. Returns True if applied."""
    global _malloc_done
    if _malloc_done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
    _malloc_done = ok
    return ok


def _blas_libs():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas").lib_controllers


@functools.cache
def blas_default() -> int:
    """The BLAS libraries' own thread count, as it was when first asked (before the CLI limits it to one)."""
    return max((lib.num_threads for lib in _blas_libs()), default=1)


class BlasThreads:
    """Get and set the thread count of the loaded BLAS libraries (threadpoolctl); ``max`` is their default."""

    def __init__(self):
        self.libs = _blas_libs()
        self.original = [lib.num_threads for lib in self.libs]
        self.max = max(blas_default(), *self.original) if self.original else 1

    def set(self, n: int) -> None:
        for lib in self.libs:
            lib.set_num_threads(n)

    def restore(self) -> None:
        for lib, n in zip(self.libs, self.original):
            lib.set_num_threads(n)


class IdleCores:
    """How many of this process's cores sat idle since the last call, from ``/proc/stat`` (Linux).

    While training runs with one BLAS thread it keeps one core busy; a second thread can
    only help if another core is idle. Reading the kernel's idle time tells that for free,
    where timing a step with two threads under contention costs up to ten steps.
    Returns None where ``/proc/stat`` cannot be read (the tuner then probes as before).
    """

    def __init__(self, path: str = "/proc/stat"):
        self.path = path
        try:
            self.cpus = {f"cpu{c}" for c in os.sched_getaffinity(0)}
        except AttributeError:  # pragma: no cover - not Linux
            self.cpus = set()
        self.last = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            with open(self.path, "rb") as f:
                lines = f.read(1 << 20).decode("ascii", "replace").splitlines()
        except OSError:
            return None
        idle = total = 0
        for line in lines:
            parts = line.split()
            if parts and parts[0] in self.cpus and len(parts) >= 5:
                ticks = [int(x) for x in parts[1:9] if x.isdigit()]
                idle += ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
                total += sum(ticks)
        return (idle, total) if total else None

    def __call__(self) -> float | None:
        now, before = self._read(), self.last
        self.last = now
        if now is None or before is None or now[1] <= before[1]:
            return None
        return len(self.cpus) * (now[0] - before[0]) / (now[1] - before[1])


class ThreadTuner:
    """Picks the faster of 1 thread and the BLAS default from timed training steps (see module docstring).

    Call :meth:`observe` after every step with its seconds and its predicted
    symbols; the tuner may change the thread count before the next step. A
    comparison ("probe") times up to ``probe`` steps at the other setting and
    compares their median seconds per symbol with the recent steps at the current
    one; the other must be ``margin`` faster to be chosen, and a probe step that is
    already ``slowdown`` times slower ends the probe at once (under contention a
    2-thread step can cost 10x a 1-thread one). Comparisons happen at the start,
    after growing intervals, and when a full window of steps at the current
    setting is ``slowdown`` times slower than when it was chosen (another program
    started), at most once every ``first_recheck`` seconds.

    A probe of *more* threads is made only when ``idle()`` says a core sat idle since
    the last decision (at least ``min_idle`` of one): under contention none does, so the
    tuner stays at one thread without ever paying for a slow probe step, and it looks
    again every ``first_recheck`` seconds (a skipped probe costs nothing). ``idle``
    returning None (no ``/proc/stat``) means unknown: probe as usual.
    """

    def __init__(self, *, probe: int = 3, window: int = 8, first_recheck: float = 3.0, longest: float = 60.0,
                 margin: float = 0.05, slowdown: float = 1.5, threads: BlasThreads | None = None,
                 clock: Callable[[], float] = time.perf_counter, idle: Callable[[], float | None] | None = None,
                 min_idle: float = 0.5):
        self.threads = threads or BlasThreads()
        self.idle = idle if idle is not None else IdleCores()
        self.min_idle = min_idle
        self.choices = sorted({1, self.threads.max})
        self.probe, self.first, self.longest, self.clock = probe, first_recheck, longest, clock
        self.margin, self.slowdown = margin, slowdown
        self.current = 1  # safe under contention; the default is probed at once
        self.interval = first_recheck
        self.recent: deque[float] = deque(maxlen=window)  # seconds per symbol at the current setting
        self.reference: float | None = None  # the current setting's speed when it was chosen
        self.trial: int | None = None  # the setting being probed
        self.trial_rates: list[float] = []
        self.next_check = 0.0  # the first comparison happens once `probe` steps were timed
        self.last_probe = -first_recheck
        self.skip = 1  # the very first step pays one-time costs (allocation, thread start)
        self.history: list[tuple[float, int]] = []  # (time, threads) of every change, for the log and tests
        if len(self.choices) > 1:
            self._use(self.current)

    def _use(self, n: int) -> None:
        self.threads.set(n)
        self.history.append((self.clock(), n))

    def observe(self, seconds: float, tokens: int) -> None:
        if len(self.choices) < 2:
            return
        if self.skip:
            self.skip -= 1
            return
        rate = seconds / max(tokens, 1)
        if self.trial is not None:
            self.trial_rates.append(rate)
            losing = rate > statistics.median(self.recent) * self.slowdown
            if losing or len(self.trial_rates) >= self.probe:
                self._decide()
            return
        self.recent.append(rate)
        if len(self.recent) < self.probe:
            return
        now = self.clock()
        slower = (self.reference is not None and len(self.recent) == self.recent.maxlen
                  and statistics.median(self.recent) > self.reference * self.slowdown
                  and now >= self.last_probe + self.first)
        if slower or now >= self.next_check:
            trial = next(c for c in self.choices if c != self.current)
            free = self.idle()
            if trial > self.current and free is not None and free < self.min_idle:
                self.next_check, self.last_probe = now + self.first, now  # no idle core: skip, look again soon
                self.recent.clear()
                return
            self.trial, self.trial_rates, self.last_probe = trial, [], now
            self._use(self.trial)

    def _decide(self) -> None:
        now, new = statistics.median(self.recent), statistics.median(self.trial_rates)
        if new < now * (1.0 - self.margin):
            self.current, self.interval, self.reference = self.trial, self.first, new
            self.recent = deque(self.trial_rates, maxlen=self.recent.maxlen)
        else:
            self._use(self.current)
            self.interval, self.reference = min(self.interval * 2, self.longest), now
            self.recent.clear()  # judge any later slowdown on fresh steps only
        self.trial = None
        self.next_check = self.clock() + self.interval

    def close(self) -> None:
        """Give the BLAS libraries their original thread counts back."""
        if len(self.choices) > 1:
            self.threads.restore()


# ----- several jobs at once, one process each ------------------------------------------------------------------
_LINES: Any = None  # in a worker process: (the pipe its log lines go through to the parent, the lock on it)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_INHERITED: list = []  # run_parallel's jobs, read by forked workers from the memory they inherit (not pickled)


def _inherited(fn: Callable[[Any], Any], i: int):
    """Job ``i`` of the running :func:`run_parallel`, in a forked worker: its memory holds the jobs."""
    return fn(_INHERITED[i])


def _start_worker(lines, lock, threads: int) -> None:
    global _LINES
    _LINES = (lines, lock)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the workers
    keep_freed_memory()
    BlasThreads().set(threads)


def worker_log(label: str) -> Callable[[str], None]:
    """In a :func:`run_parallel` job: a log function whose lines reach the parent's log as ``[label] line``."""
    def log(line: str) -> None:
        if _LINES is None:
            raise RuntimeError("worker_log is for jobs run by run_parallel")
        pipe, lock = _LINES
        with lock:  # sent before the call returns: a job's lines are all in the pipe when its result is
            pipe.send(f"[{label}] {line}")
    return log


class _CtrlCAtSafePoints:
    """While installed (main thread, Ctrl-C not ignored): a Ctrl-C is noted, and :meth:`check` acts on it.

    Python raises ``KeyboardInterrupt`` at whatever bytecode runs when the signal comes, which can be
    right after a lock was taken and before the ``with`` that releases it (CPython bpo-29988). A future's
    lock left held that way makes the executor's shutdown wait forever, so the process never exits.
    """

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self) -> "_CtrlCAtSafePoints":
        if threading.current_thread() is threading.main_thread() and callable(signal.getsignal(signal.SIGINT)):
            self._old = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum, frame) -> None:
        self.hit = True

    def check(self) -> None:
        """Act on a noted Ctrl-C as the handler it replaced would have (``KeyboardInterrupt`` by default)."""
        if self.hit:
            self.hit = False
            self._old(signal.SIGINT, None)

    def __exit__(self, *exc) -> bool:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def run_parallel(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, log: Callable[[str], None]) -> list:
    """``[fn(job) for job in jobs]``, computed in ``workers`` fresh processes at once (each with
    ``cores // workers`` BLAS threads); results in the order of ``jobs``.

    ``fn`` must be a module-level function and ``jobs`` picklable. Lines a job logs
    through :func:`worker_log` reach ``log`` as they come. The first job that fails
    ends the others and its exception is raised here; Ctrl-C (or any other exit)
    ends every worker at once and raises ``KeyboardInterrupt``. Jobs write no files
    of their own, so ending them loses nothing but their work.
    """
    # Linux: fork (OpenBLAS's pthreads pool restarts in the child; no script is imported again, so an API
    # script without an ``if __name__ == "__main__":`` guard works); elsewhere fork is unsafe: spawn
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    lines, sender = ctx.Pipe(duplex=False)
    lock = ctx.Lock()
    threads = max(1, usable_cores() // workers)
    # Ctrl-C waits until every worker is started and known (so that it can be ended); the workers inherit
    # the blocked signal and ignore it too: Ctrl-C is the parent's to handle
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None
    forked = ctx.get_start_method() == "fork"
    with _CtrlCAtSafePoints() as ctrl_c:  # until the workers are ended and the executor shut down
        ex = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker,
                                 initargs=(sender, lock, threads))
        try:
            # forked workers (started by the first submit) inherit the jobs: a fine-tuning fold's base model
            # (78 MB for world) is then not pickled once per job
            _INHERITED[:] = jobs if forked else []
            futures = [ex.submit(functools.partial(_inherited, fn), i) if forked else ex.submit(fn, job)
                       for i, job in enumerate(jobs)]
        finally:
            if masked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, masked)
        try:
            return _collect(ex, futures, lines, sender, log, ctrl_c)
        finally:
            _INHERITED.clear()


def _collect(ex: ProcessPoolExecutor, futures: list, lines, sender, log: Callable[[str], None],
             ctrl_c: _CtrlCAtSafePoints) -> list:
    """The jobs' results, relaying their log lines meanwhile; on a failure or Ctrl-C every worker is ended."""
    done = False
    try:
        while not all(f.done() for f in futures):
            ctrl_c.check()
            if any(f.done() and f.exception() is not None for f in futures):
                break
            _relay(lines, log, wait=0.2)
        _relay(lines, log, wait=0.0)
        ctrl_c.check()
        for f in futures:
            if f.done() and f.exception() is not None:
                raise f.exception()
        done = True
        return [f.result() for f in futures]
    finally:
        workers = list(getattr(ex, "_processes", {}).values())  # no public way to end running workers
        if not done:
            for p in workers:
                p.terminate()
        manager = getattr(ex, "_executor_manager_thread", None)  # it reaps the workers it sees die
        ex.shutdown(wait=done, cancel_futures=True)
        for p in workers:
            p.join(timeout=10)
        if manager is not None:
            manager.join(timeout=10)
        lines.close()
        sender.close()


def _relay(lines, log: Callable[[str], None], wait: float) -> None:
    """Pass the workers' waiting log lines to ``log`` (waiting up to ``wait`` seconds for the first)."""
    if lines.poll(wait):
        log(lines.recv())
        while lines.poll(0):
            log(lines.recv())
