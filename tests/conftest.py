"""Shared test setup: make the package importable from a source checkout.

With the package installed (pip install -e .) this changes nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# As the console script does (emgmm_cli.cli.main.main): one BLAS thread per engine thread.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
