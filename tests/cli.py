"""The AWS CLI (``python -m awscli``) pointed at a cloudlet server, as one account in one
Region: the ``aws`` fixture's runner, and the tests that need other accounts' keys."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def aws_cli(
    endpoint: str, home: Path, *, access_key: str = "test", region: str = "us-east-1"
) -> Callable[..., subprocess.CompletedProcess]:
    """``run(*args, check=True)``: the CLI with ``args``, its home and working directory
    ``home``; ``check`` asserts it succeeded."""
    env = {
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=home,
        )
        if check:
            assert out.returncode == 0, out.stderr
        return out

    return run
