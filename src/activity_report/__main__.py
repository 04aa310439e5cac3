"""``python -m activity_report`` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
