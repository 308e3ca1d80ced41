"""A stopped command's last words (`interrupted`, the writes that may have reached the API) and
its exit, when a second signal comes then: a runner's SIGINT then SIGTERM, a closed terminal's
two hang-ups, Ctrl-C pressed twice. The handlers of the run were gone by then: SIGTERM killed
the process before it named the writes (exit -15), SIGINT raised a traceback in an exit handler.
A real process: signals at their defaults, as `ehkeys` starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..helpers import ROOT, interruptible

# ehkeys as its entry point runs it, a stop arriving while the manifest is read, and each of the
# next signals in the last words, then in an exit handler (registered first, so run last)
DRIVER = """
import atexit, os, signal, sys
from reconciler.api import unsettled
from reconciler.cli import main
from reconciler.manifest import load

def again():
    for stop in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        os.kill(os.getpid(), stop)

def at_exit():
    again()
    print("exited whole", file=sys.stderr)

atexit.register(at_exit)
read = load.load

def stopped(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    return read(*args, **kwargs)

def named():
    again()
    return ["these writes may or may not have reached the API: POST /auth/proxy/update"]

load.load, unsettled.lines = stopped, named
sys.argv = ["ehkeys", "plan", "keys.yaml", "--sandbox"]
main.entry()
"""


def test_a_second_signal_never_cuts_a_stopped_runs_last_words_nor_its_exit(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text("version: 1\nkeys:\n  - {name: key-0, limit_type: daily}\n")
    done = subprocess.run(
        [sys.executable, "-c", DRIVER],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=interruptible,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines() == [
        "ehkeys: interrupted",
        "ehkeys: these writes may or may not have reached the API: POST /auth/proxy/update",
        "exited whole",
    ], done.stderr


# The `ehkeys` command as pyproject declares it, Ctrl-C arriving while Python imports ehkeys (the
# first ~0.15 s of every run, before main() sets any handler)
EARLY = """
import importlib, importlib.abc, os, signal, sys, tomllib

class Stop(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "reconciler.cli.main":
            os.kill(os.getpid(), signal.SIGINT)
        return None

scripts = tomllib.loads(open(sys.argv.pop(1)).read())["project"]["scripts"]
where, _, function = scripts["ehkeys"].partition(":")
sys.meta_path.insert(0, Stop())
sys.argv = ["ehkeys", "--version"]
getattr(importlib.import_module(where), function)()
"""


def test_ctrl_c_while_ehkeys_is_imported_is_an_interrupt_never_a_traceback(tmp_path: Path) -> None:
    """A KeyboardInterrupt traceback through the import machinery, exit 1."""
    done = subprocess.run(
        [sys.executable, "-c", EARLY, str(ROOT / "pyproject.toml")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=interruptible,
    )
    assert (done.returncode, done.stderr) == (130, "ehkeys: interrupted\n"), done.stderr
