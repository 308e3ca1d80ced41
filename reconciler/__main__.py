import sys

from reconciler.cli.main import main

sys.exit(main(sys.argv[1:]))
