#!/usr/bin/env python3
"""Regenerate sample_data/ deterministically.

    python scripts/make_sample_data.py [--out-dir DIR] [--faithful-source CSV]

Writes blobs4.csv and heights.csv (drawn with emgmm_cli.engine.blobs.make_blobs from fixed
seeds: the coordinates only) with the true blob of each row beside them in blobs4.labels.csv
and heights.labels.csv, faithful.csv (R's Old Faithful data, normalised to an unquoted
header) and README.md. The same numpy version gives byte-identical files on every run;
tests/test_sample_data.py checks that the committed files are what this script writes.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from emgmm_cli.engine.blobs import make_blobs

DEFAULT_OUT_DIR = REPO_ROOT / "sample_data"
FLOAT_FORMAT = ".10g"

BLOBS4_SIZES = (80, 60, 70, 140)
BLOBS4_CENTERS = ((1.0, 1.0), (5.0, 5.0), (6.0, 1.0), (2.0, 8.0))
BLOBS4_STD = 1.0
BLOBS4_SEED = 0

HEIGHTS_SIZES = (300, 300)
HEIGHTS_CENTERS = ((1.76,), (1.55,))
HEIGHTS_STD = 0.1
HEIGHTS_SEED = 1

FAITHFUL_HEADER = ("eruptions", "waiting")
FAITHFUL_ROWS = 272


def format_csv(header: Sequence[str], x: NDArray[np.float64]) -> bytes:
    """CSV text with '\\n' line ends, floats as '%.10g'."""
    lines = [",".join(header)]
    for row in x.tolist():
        lines.append(",".join(format(v, FLOAT_FORMAT) for v in row))
    return ("\n".join(lines) + "\n").encode("ascii")


def format_labels(labels: NDArray[np.int64]) -> bytes:
    """One integer a line, no header: what `emgmm fit --labels` and `make-blobs --labels`
    write, so that `paste` lines the truth up with a clustering."""
    return "".join(f"{int(v)}\n" for v in labels.tolist()).encode("ascii")


def blobs4() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The four-blob set: 80, 60, 70, 140 points around (1,1), (5,5), (6,1), (2,8), std 1."""
    return make_blobs(
        BLOBS4_SIZES,
        np.array(BLOBS4_CENTERS),
        std=BLOBS4_STD,
        rng=np.random.default_rng(BLOBS4_SEED),
    )


def heights() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Two one-dimensional groups of 300 around 1.76 (label 0) and 1.55 (label 1), std 0.1."""
    return make_blobs(
        HEIGHTS_SIZES,
        np.array(HEIGHTS_CENTERS),
        std=HEIGHTS_STD,
        rng=np.random.default_rng(HEIGHTS_SEED),
    )


def normalise_faithful(text: str) -> bytes:
    """R's write.csv output of datasets::faithful -> 'eruptions,waiting' CSV, numbers verbatim.

    Accepts a quoted or unquoted header and an optional leading row-name column; checks
    that there are 272 rows of two numbers. Idempotent on its own output.
    """
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise ValueError("faithful source is empty")
    header = [field.strip() for field in rows[0]]
    drop_first = len(header) == 3 and header[0] == ""
    if drop_first:
        header = header[1:]
    if tuple(header) != FAITHFUL_HEADER:
        raise ValueError(f"faithful source: expected header eruptions,waiting, got {','.join(header)}")
    lines = [",".join(FAITHFUL_HEADER)]
    for number, row in enumerate(rows[1:], start=2):
        fields = [field.strip() for field in (row[1:] if drop_first else row)]
        if len(fields) != 2:
            raise ValueError(f"faithful source line {number}: expected 2 fields, got {len(fields)}")
        for field in fields:
            try:
                float(field)
            except ValueError:
                raise ValueError(f"faithful source line {number}: {field!r} is not a number") from None
        lines.append(",".join(fields))
    if len(lines) - 1 != FAITHFUL_ROWS:
        raise ValueError(f"faithful source: expected {FAITHFUL_ROWS} rows, got {len(lines) - 1}")
    return ("\n".join(lines) + "\n").encode("ascii")


def readme_md() -> bytes:
    """sample_data/README.md: what each file is and how it was made."""
    blobs_centres = ", ".join(f"({x:g}, {y:g})" for x, y in BLOBS4_CENTERS)
    blobs_sizes = ", ".join(str(n) for n in BLOBS4_SIZES)
    text = f"""\
# Sample data

Small data sets for trying `emgmm` and for the tests. `blobs4.csv` and `heights.csv` are
synthetic; `faithful.csv` is a classic real data set. All of them, and this file, are
written, byte for byte, by

    python scripts/make_sample_data.py            # writes sample_data/
    python scripts/make_sample_data.py -o DIR     # writes DIR/ instead

`tests/test_sample_data.py` regenerates the files into a temporary folder and checks that
they are identical to the committed ones. Synthetic points are drawn with
`emgmm_cli.engine.blobs.make_blobs` from `numpy.random.default_rng(seed)`, all of blob 0
first, then blob 1, and so on; floats are written with `%.10g`. A synthetic file holds the
coordinates only, so that `emgmm fit FILE` fits them as they are; the truth, the blob each
row was drawn from (0, 1, ...), is in `NAME.labels.csv` beside it: one integer a line, no
header, as `emgmm fit --labels` writes labels, so that `paste` lines the two up:

    emgmm fit sample_data/blobs4.csv -k 4 --seed 0 | paste -d' ' - sample_data/blobs4.labels.csv | sort | uniq -c

## blobs4.csv

Columns `x,y`; {sum(BLOBS4_SIZES)} rows. Four isotropic Gaussian blobs in the plane:
{blobs_sizes} points around {blobs_centres},
standard deviation {BLOBS4_STD:g} in each coordinate; seed {BLOBS4_SEED}. `blobs4.labels.csv`
holds the blob of each row (0..3, in that order): the truth to compare a clustering with.

## heights.csv

Column `height`; {sum(HEIGHTS_SIZES)} rows. One-dimensional: {HEIGHTS_SIZES[0]} values
around {HEIGHTS_CENTERS[0][0]:g} (group 0), then {HEIGHTS_SIZES[1]} around {HEIGHTS_CENTERS[1][0]:g} (group 1), standard
deviation {HEIGHTS_STD:g}; seed {HEIGHTS_SEED}. Two overlapping groups, in metres;
`heights.labels.csv` holds the true group of each row.

## faithful.csv

Columns `eruptions,waiting`; {FAITHFUL_ROWS} rows. R's `datasets::faithful`: waiting time
between eruptions and duration of the eruption for the Old Faithful geyser in Yellowstone
National Park, Wyoming, USA: {FAITHFUL_ROWS} eruptions. `eruptions` is the eruption time in
minutes, `waiting` the waiting time to the next eruption in minutes. Sources given by R:
Härdle, W. (1991) *Smoothing Techniques with Implementation in S*, New York: Springer;
Azzalini, A. and Bowman, A. W. (1990) A look at some data on the Old Faithful geyser,
*Applied Statistics* 39, 357-365. The numbers are R's, unchanged; the script only
rewrites the header unquoted (R's `write.csv(faithful, row.names = FALSE)` quotes it).
Pass `--faithful-source FILE` to rebuild it from such an export; by default the script
re-reads the committed copy.
"""
    return text.encode("utf-8")


def render_files(faithful_source: Path) -> dict[str, bytes]:
    """File name -> content of every file in sample_data/."""
    (bx, bl), (hx, hl) = blobs4(), heights()
    return {
        "blobs4.csv": format_csv(("x", "y"), bx),
        "blobs4.labels.csv": format_labels(bl),
        "heights.csv": format_csv(("height",), hx),
        "heights.labels.csv": format_labels(hl),
        "faithful.csv": normalise_faithful(faithful_source.read_text(encoding="utf-8")),
        "README.md": readme_md(),
    }


def write_atomic(path: Path, content: bytes) -> None:
    """Write through a temporary file in the same folder, then rename over the target."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "-o", "--out-dir", type=Path, default=DEFAULT_OUT_DIR,
        help=f"folder to write into (default: {DEFAULT_OUT_DIR})",
    )
    parser.add_argument(
        "--faithful-source", type=Path, default=DEFAULT_OUT_DIR / "faithful.csv",
        help="CSV export of R's datasets::faithful (default: the committed sample_data/faithful.csv)",
    )
    args = parser.parse_args(argv)
    try:
        files = render_files(args.faithful_source)
    except (OSError, ValueError) as exc:
        print(f"make_sample_data: {exc}", file=sys.stderr)
        return 1
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        write_atomic(out_dir / name, content)
        print(f"wrote {out_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
