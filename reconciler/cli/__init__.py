"""The command line: options, the commands, main (argparse stops here)."""
