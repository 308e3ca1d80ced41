"""The one engine: plan, apply, drift, import and reveal as functions of typed settings
(`settings`), for every caller: the command line (`cli/`) and the GitOps jobs (`gitops/`).

A job returns its value (a plan, an apply report, a drift report) with its exit code; what it
has to say while it runs goes to the caller's console (`console`). The callers print.
One module per job (`plan`, `apply`, `drift`, `imports`, `reveal`), beside what they share:
where the API is (`target`), the manifest and state opened (`workspace`), the saved plan
(`saved`) and the state an apply records (`records`).
"""
