"""Peak memory of a process together with the processes it started.

In-process Spark runs its work in a JVM that pyspark starts as a child process; a figure of
the Python process alone would leave out where the data is. Each process's VmHWM (its own
peak RSS) is read from /proc while it is still alive, and the tree's peaks are summed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def tree_peak_mb(pid: int | None = None) -> float:
    """Sum of VmHWM of ``pid`` (default: this process) and its live descendants, in MB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [os.getpid() if pid is None else pid]
    while todo:
        process = todo.pop()
        todo += children.get(process, [])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024
