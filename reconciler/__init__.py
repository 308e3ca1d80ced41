"""ehkeys: ElectronHub proxy keys as code."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client (httpx._main) whenever click and rich are
# installed: rich and pygments, ~0.15 s of every ehkeys run that talks to the API. ehkeys
# never runs httpx's CLI, so that one import is declined (httpx then defines a stub `main`).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
