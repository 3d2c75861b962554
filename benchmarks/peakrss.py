"""Peak resident memory of the current process, in MB.

`getrusage(RUSAGE_SELF).ru_maxrss` is not usable here: Linux carries the
parent's high-water mark across fork + exec, so every script started by
`run.py` would report at least `run.py`'s own peak. `VmHWM` in
/proc/self/status belongs to the process's own address space and starts
afresh at exec.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best effort
