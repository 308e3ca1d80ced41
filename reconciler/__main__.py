from reconciler.cli.launch import entry

entry()
