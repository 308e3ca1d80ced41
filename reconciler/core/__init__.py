"""Values that import nothing else of ehkeys: keys, changes, plans, outcomes, errors and exit codes."""
