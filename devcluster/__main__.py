"""`python -m devcluster`: see devcluster/README.md."""

from __future__ import annotations

import sys

from devcluster.cli import main

sys.exit(main())
