"""A command sink's command for the tests: records what it was given (its standard input, its
arguments, its whole environment) as JSON in the file $RECORD_TO names (one record per line),
then exits as $RECORD_EXIT says (default 0), saying $RECORD_SAY on its standard error first; with
$RECORD_BLOCK set to a path, it writes its process id there and waits to be killed (a kill
mid-delivery: it runs in a process group of its own, so whoever kills the apply kills it too)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

value = sys.stdin.read()
with open(os.environ["RECORD_TO"], "a", encoding="utf-8") as out:
    out.write(json.dumps({"stdin": value, "argv": sys.argv, "env": dict(os.environ)}) + "\n")
block = os.environ.get("RECORD_BLOCK")
if block and not Path(block).exists():
    Path(block + ".part").write_text(str(os.getpid()))
    os.replace(block + ".part", block)  # whole when it appears
    time.sleep(120)
said = os.environ.get("RECORD_SAY", "")
if said:
    print(said.replace("{value}", value), file=sys.stderr)
sys.exit(int(os.environ.get("RECORD_EXIT", "0")))
