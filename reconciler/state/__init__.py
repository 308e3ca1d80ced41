"""What ehkeys remembers: the state and its journal, snapshots, saved plans, reports, the apply lock."""
