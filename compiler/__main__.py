"""`python -m compiler` runs the protocolc command line."""

import sys

from compiler.cli import main

sys.exit(main())
