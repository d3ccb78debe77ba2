"""`python -m normtheory.cli ...`: the same as the `normtheory` command."""

import sys

from normtheory.cli import main

sys.exit(main())
