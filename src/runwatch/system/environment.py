"""The run's environment, captured once at init: cheap facts only (no subprocesses)."""

from __future__ import annotations

import os
import platform
import socket
import sys
from typing import Any

HOST = socket.gethostname()


def basic_metadata() -> dict[str, Any]:
    return {
        "host": HOST,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "executable": sys.executable,
        "program": sys.argv[0] if sys.argv else "",
        "args": sys.argv[1:],
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }
