#!/usr/bin/env python3
"""Draw the pictures the README shows, from sample_data/, with emgmm's own plotting.

    python scripts/make_pictures.py            # writes docs/images/
    python scripts/make_pictures.py -o DIR     # writes DIR/ instead

Each picture is what `emgmm plot` draws for a fit of a sample file (PICTURES: the file,
K, and the options of the fit); tests/test_plot.py runs this script into a temporary folder
and checks that it writes every picture the README links to.  Needs the plot extra.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_OUT_DIR = REPO_ROOT / "docs" / "images"
#: picture name -> (sample file, K): what `emgmm fit sample_data/FILE -k K --seed 0 --plot
#: NAME` draws, at SIZE
PICTURES = {"blobs4.png": ("blobs4.csv", 4), "heights.png": ("heights.csv", 2)}
SIZE = (720, 480)


def draw(out_dir: Path) -> list[Path]:
    """Fit each sample with seed 0 and draw it into out_dir; the paths written."""
    import emgmm_cli
    from emgmm_cli.app import plotting
    from emgmm_cli.app.fitting import fitted_view

    written = []
    for name, (sample, k) in PICTURES.items():
        fit = emgmm_cli.fit(str(REPO_ROOT / "sample_data" / sample), k, seed=0)
        path = out_dir / name
        figure = plotting.mixture_figure(fitted_view(fit), size=SIZE)
        plotting.save_figure(figure, str(path))
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the README's pictures.")
    parser.add_argument("-o", "--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                        help=f"folder to write into (default: {DEFAULT_OUT_DIR})")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path in draw(args.out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
