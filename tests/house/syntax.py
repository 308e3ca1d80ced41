"""A module's syntax tree, for the house's checks, whatever ran before in this process.

CPython 3.11's `ast.parse` keeps a recursion count per interpreter, and a signal's handler that
raises while a traceback's carets are computed (`traceback` parses the failing line) leaves it
off: every later `ast.parse` then raises `SystemError: AST constructor recursion depth mismatch`.
The suite's SIGTERM tests (a runner cancelling a job mid-apply) can do that. The tree is then
parsed in a fresh interpreter and handed back pickled: the check still reads the code as it is
(its bytes, whatever PYTHONIOENCODING says), and a file that does not parse there still fails,
as a SyntaxError naming it and the child's own message.
"""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from pathlib import Path

_FRESH = (
    "import ast, pickle, sys; "
    "sys.stdout.buffer.write(pickle.dumps(ast.parse(sys.stdin.buffer.read(), sys.argv[1])))"
)


def parsed(path: Path) -> ast.Module:
    text = path.read_text(encoding="utf-8")
    try:
        return ast.parse(text)
    except SystemError:  # the count left off by an interrupted parse: parse it afresh
        out = subprocess.run(
            [sys.executable, "-c", _FRESH, str(path)], input=text.encode(), capture_output=True
        )
        if out.returncode != 0:  # its SyntaxError, or any failure: never a tree
            raise SyntaxError(f"{path}: {out.stderr.decode(errors='replace').strip()}") from None
        tree: ast.Module = pickle.loads(out.stdout)
        return tree
