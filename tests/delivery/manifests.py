"""The delivery tests' manifest: one key, `api` (named API, 5.00 a day), and its sinks."""

from __future__ import annotations

API_KEY = """version: 1
defaults: {limit_type: daily}
keys:
  - id: api
    name: API
    allocated_ammount: 5
    deliver:
"""


def delivering(*sinks: str) -> str:
    """`API_KEY` delivered to each of `sinks`, a sink's YAML as it follows its `- ` (its first
    line at keys.yaml's line 8, column 15 for a `file:`)."""
    return API_KEY + "".join(f"      - {sink}\n" for sink in sinks)
