"""Making the changes: the applier, verification, rivals, the reviewed-vs-charged report, secret files."""
