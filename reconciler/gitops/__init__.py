"""The GitHub jobs: plan, comment, apply the reviewed plan, drift issue, the state branch."""
