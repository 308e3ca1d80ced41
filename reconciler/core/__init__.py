"""Values that import nothing else of ehkeys: keys and secrets, money and moments, changes,
plans, outcomes, errors and exit codes; and the collector tuning every layer uses (heap)."""
