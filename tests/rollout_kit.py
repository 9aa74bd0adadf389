"""Fake targets for rollout tests: a hook script that appends its call to a file.

The script (`hook.sh NAME TARGET WEIGHT VERSION`) counts its calls; on call
$KILL_AT it kills the controller that ran it (kill -9 $PPID) before doing
anything, as a crash right after the controller recorded the step; a call whose
"NAME TARGET" is listed in $FAIL_ON exits 3 instead; a call listed in $HANG_ON
sleeps past any timeout.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

HOOK = r"""#!/bin/sh
n=0
if [ -f "$HOOK_DIR/count" ]; then read -r n < "$HOOK_DIR/count"; fi
n=$((n + 1))
echo "$n" > "$HOOK_DIR/count"
if [ "$n" = "${KILL_AT:-0}" ]; then kill -9 "$PPID"; exit 0; fi
case ";${FAIL_ON:-};" in *";$1 $2;"*) echo "$1 failed on $2"; exit 3;; esac
case ";${HANG_ON:-};" in *";$1 $2;"*) exec sleep 60;; esac
echo "$1 $2 $3 $4" >> "$HOOK_DIR/calls"
"""

HOOKS = """[hooks]
deploy = ["./hook.sh", "deploy", "{target}", "{weight}", "{version}"]
set_weight = ["./hook.sh", "set_weight", "{target}", "{weight}", "{version}"]
health = ["./hook.sh", "health", "{target}", "{weight}", "{version}"]
promote = ["./hook.sh", "promote", "{target}", "{weight}", "{version}"]
rollback = ["./hook.sh", "rollback", "{target}", "{weight}", "{version}"]
"""

# staging (one target, two steps), then prod two regions one at a time
PLAN = (
    """[rollout]
name = "shop"
rollback_scope = "{scope}"
hook_timeout = 20
"""
    + HOOKS
    + """
[[wave]]
name = "staging"
targets = ["staging"]
steps = [50, 100]

[[wave]]
name = "prod"
targets = ["eu", "us"]
max_parallel = 1
steps = [100]
"""
)


def write_kit(directory: Path, plan: str = PLAN, *, scope: str = "wave") -> Path:
    """The hook script and *plan* in *directory*; the plan's path."""
    directory.mkdir(parents=True, exist_ok=True)
    hook = directory / "hook.sh"
    hook.write_text(HOOK)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    path = directory / "plan.toml"
    path.write_text(plan.replace("{scope}", scope))
    return path


def hook_env(directory: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOOK_DIR": str(directory), **extra}


def calls(directory: Path) -> list[str]:
    path = directory / "calls"
    return path.read_text().splitlines() if path.exists() else []


def reset(directory: Path) -> None:
    for name in ("calls", "count"):
        (directory / name).unlink(missing_ok=True)
