"""`emgmm make-blobs`: labelled Gaussian blob data."""

from __future__ import annotations

from typing import Any

import click

from ..engine.options import OPTION_SPECS
from .errors import command
from .context import Terminal
from .options import (
    FILE_PATH,
    PATH,
    FORMATS_TEXT,
    Box,
    Centers,
    NumberList,
    PointCounts,
    SpecType,
    WholeRange,
    common_options,
    format_option,
    header_option,
    pass_terminal,
    truth_options,
)


@command("make-blobs", short_help="Generate Gaussian blob data.")
@click.option("-n", "--n-samples", "sizes", type=PointCounts(), default="100",
              show_default=True, metavar="N|N1,N2,...",
              help="Points in all, split evenly over the centers, or one count per center.")
@click.option("--centers", type=Centers(), metavar="ROWS|FILE",
              help="The centers: inline rows such as '1,1;5,5;6,1', or a K x D CSV/TSV/NPY "
                   "file (default: random centers).")
@header_option(" of --centers FILE")
@click.option("--n-centers", type=WholeRange(min=1), metavar="K",
              help="Number of random centers (default: one per size given to -n, else 3).")
@click.option("--dim", type=WholeRange(min=1), metavar="D",
              help="Dimensions of random centers (default: 2).")
@click.option("--center-box", type=Box(), metavar="LOW,HIGH",
              help="Draw random centers uniformly in [LOW, HIGH) per dimension "
                   "(default: -10,10).")
@click.option("--std", type=NumberList(float, "number"), metavar="S|S1,S2,...",
              help="Standard deviation of every blob, or one per blob (default: 1).")
@click.option("--covariances", type=PATH, metavar="FILE",
              help="A full covariance per blob: a .npy array of shape (K, D, D) or a .json "
                   "nested list (instead of --std).")
@click.option("--seed", type=SpecType(OPTION_SPECS["seed"]),
              help="Random seed; the same seed gives the same bytes (default: fresh).")
@click.option("-o", "--output", default="-", show_default=False, metavar="FILE",
              type=FILE_PATH,
              help=f"Write the points to FILE ({FORMATS_TEXT} by extension; default: CSV "
                   "on stdout).")
@truth_options
@click.option("--centers-out", metavar="FILE", type=FILE_PATH,
              help="Write the true centers (K x D) to FILE.")
@format_option
@common_options
@pass_terminal
def make_blobs(term: Terminal, **kw: Any) -> None:
    """Generate Gaussian blob data, and the blob of each point if asked.

    Columns x0..x{D-1}: coordinates only, so that the data can be piped to fit as they
    are.  Each point's blob (0..K-1), the truth to compare a clustering with, goes to
    --labels FILE, or to a column with --label-column NAME.  Points come blob by blob, in
    center order.  Values that do not parse or are out of range (negative sizes or
    spreads) and options that disagree (counts or dimensions) are usage errors, exit
    status 2; a covariance file that cannot be used, 1.

    \b
    Examples:
      emgmm make-blobs -n 1000 --n-centers 4 --dim 2 --seed 0 > blobs.csv
      emgmm make-blobs -n 80,60 --centers "1,1;5,5" --label-column blob
      emgmm make-blobs -n 500 --centers centers.csv --std 1,0.5,2 -o data.npy
      emgmm make-blobs -n 300 --centers "0,0;4,4" --covariances cov.json --seed 1
      emgmm make-blobs -n 900 --seed 0 --labels truth.csv | emgmm fit - -k 3
    """
    from ..app.blobs import BlobRequest, run_make_blobs

    run_make_blobs(BlobRequest(**kw), warn=term.warn)
