"""Extra man-page sections, beside what the click definitions say (scripts/make_man.py)."""

from __future__ import annotations

EXIT_STATUS = """\
0  success.

1  the data, a file, or the fit failed: the message on stderr names the file, and where known the line and column.

2  bad usage: an unknown option, a value out of range, a missing argument.

130  interrupted (Ctrl-C); no partial output file is left behind."""

ENVIRONMENT = """\
NO_COLOR  when set, tables are printed without colour.

EMGMM_FORCE_TTY  when set to a non-empty value other than 0, stdout and stderr are treated as terminals (summary tables instead of labels).

OMP_NUM_THREADS, OPENBLAS_NUM_THREADS  limit the threads of the linear-algebra library."""

MAN_SECTIONS: dict[str, dict[str, str]] = {
    "emgmm": {
        "EXIT STATUS": EXIT_STATUS,
        "ENVIRONMENT": ENVIRONMENT,
        "CONVENTIONS": """\
'-' is stdin for an input and stdout for an output. Output formats follow the extension: .csv, .tsv, .npy, .json. Output files are written atomically (a temporary file in the same folder, then a rename), so a failed or interrupted run never leaves a half-written file and never touches an input.

When stdout is a terminal, commands print rich tables; when it is a pipe or a file, they print plain data (one label per line for fit) and send messages to stderr. --quiet silences everything but data and errors.""",
        "SEE ALSO": "emgmm-fit(1)",
    },
    "fit": {
        "OUTPUT": """\
Labels: one integer 0..K-1 per line, no header (in .npy: an int64 array; in .json: a list). Responsibilities: an N x K table with columns p0..p{K-1}. Trace: iteration, log_likelihood (the mean per-sample log-likelihood of the parameters the iteration started from; for --algorithm hard the mean classification log-likelihood), change, seconds. Model: the versioned JSON document described in emgmm(1) FILES.""",
        "CONVERGENCE": """\
EM stops when the mean per-sample log-likelihood changes by less than --tol between iterations, as scikit-learn's GaussianMixture does, or after --max-iter iterations; then a warning is printed and the summary says converged: false. Hard EM also stops as soon as no point changes component. The reported log-likelihood is that of the final parameters, after one more E-step.""",
        "DEGENERATE FITS": """\
A component is degenerate (a spurious maximum of the likelihood) when the smallest eigenvalue of its covariance, less --reg-covar, is below 1e-6 times the smallest non-zero column variance of the data: the component has collapsed onto a few points or a line, and only --reg-covar keeps its covariance invertible. Degenerate components are named in a warning and in the model's "degenerate" list; among restarts, a non-degenerate fit always wins over a degenerate one. A component whose weight collapses to zero keeps its last mean and covariance and is reported. A covariance that is not positive definite even with --reg-covar is an error that names the component.""",
        "EXIT STATUS": EXIT_STATUS,
        "SEE ALSO": "emgmm(1)",
    },
}
