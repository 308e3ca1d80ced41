"""From a manifest and an account to a plan: binding, per-key plans, warnings, the planner, import."""
