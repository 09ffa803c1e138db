"""``python -m veil`` runs the CLI with the same exit codes as the console script."""

import sys

from veil.cli import main

sys.exit(main())
