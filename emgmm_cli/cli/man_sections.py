"""Extra man-page sections, beside what the click definitions say (scripts/make_man.py)."""

from __future__ import annotations

EXIT_STATUS = """\
0  success.

1  the data, a file, or the fit failed: the message on stderr names the file, and where known the line and column.

2  bad usage: an unknown option, a value out of range, a missing argument.

129, 130, 143  stopped by SIGHUP, Ctrl-C (SIGINT) or SIGTERM (128 plus the signal's number); no partial output file is left behind."""

ENVIRONMENT = """\
NO_COLOR  when set, tables are printed without colour.

EMGMM_FORCE_TTY  when set to a non-empty value other than 0, stdout and stderr are treated as terminals (summary tables instead of labels).

OMP_NUM_THREADS, OPENBLAS_NUM_THREADS  limit the threads of the linear-algebra library.

XDG_CACHE_HOME  the default --cache-dir is $XDG_CACHE_HOME/emgmm (~/.cache/emgmm when it is not set)."""

LARGE_DATA = """\
An input file larger than --memory-limit (default: a quarter of the memory, or of the cgroup's limit when that is lower; sizes such as 512M or 2G, in powers of 1024) is never loaded whole. A .npy file is read block by block on every pass over the data (cut to --columns and converted to --dtype block by block), after one pass that checks its values for NaN and infinities. A text file is converted once, in chunks of rows, to a .npy in --cache-dir (written atomically; keyed by the file's absolute path, size and modification time and by --columns, --dtype, --delimiter and --header, so it is reused while the file is unchanged and replaced when it changes), then read the same way. Labels and responsibilities are written block by block into their temporary output files, renamed at the end; output for stdout is spooled to an unnamed temporary file past 16 MiB. The results are those of an in-memory fit, bit for bit. Standard input is always read into memory.

--dtype float32 reads the data in single precision and runs the E-step in it, with statistics and log-likelihoods summed in float64: half the memory, faster, and on well-separated data the same labels. The model records the dtype in its options."""

MODEL_FILE = """\
A model file is the JSON document that fit --model FILE.json writes and that predict, score, sample and info read: an object in format "emgmm-model", version 1, or version 2 for a fit of standardized columns (--standardize), which adds the field transform. Readers validate it: a file that is not JSON, holds another format or version, lacks a field, has fields whose shapes disagree, weights that are negative or do not sum to 1, or covariances that are not symmetric positive definite is refused with a one-line error naming the field, and exit status 1. The fields:

format  "emgmm-model".

version  1, or 2 with a transform: the version of the format; readers refuse versions they do not know (a reader of version 1 would ignore the transform and apply the parameters to unstandardized data).

emgmm_version  the version of emgmm that wrote the file.

covariance_type  full, tied, diag or spherical.

n_components, n_features  K and D, both >= 1.

feature_names  the D column names of the training data; predict and score select these columns when the input's header holds them all, and otherwise use every column.

weights  K numbers >= 0 that sum to 1.

means  K x D numbers.

covariances  K x D x D (full), D x D (tied), K x D (diag: variances) or K (spherical: one variance per component), --reg-covar included; finite, symmetric and positive definite.

n_samples  N, the number of rows fitted.

log_likelihood, mean_log_likelihood  the log-likelihood of the final parameters, in total and per sample (null if not finite).

n_parameters  p, the number of free parameters.

bic, aic, icl  -2 log L + p log N, -2 log L + 2p, and BIC - 2 sum_i log max_k r_ik: lower is better (mclust's BIC is minus ours).

converged, n_iter  whether EM met --tol, and the iterations it ran.

degenerate  the indices of degenerate components.

events  the named events of the fit: objects with kind, component, iteration and message.

restart_log_likelihoods  the final log-likelihood of every restart.

options  every fit option (n_components, covariance_type, init, means_init, n_init, tol, max_iter, reg_covar, algorithm, dtype) and the seed actually used.

source  the training data file, or <stdin>.

transform  only with --standardize: {"kind": "standardize", "center": D numbers, "scale": D numbers > 0}. weights, means and covariances are then those of the standardized columns z = (x - center) / scale, where the covariance family holds exactly (a spherical covariance of z is diagonal, not spherical, in the data's units unless the scales are equal); in the data's units, component k has mean center + scale * mean_k and covariance diag(scale) covariance_k diag(scale). predict, score and sample apply the transform. log_likelihood, the criteria and restart_log_likelihoods are those of the data: log L(z) - N sum_j log scale_j.

Numbers are written with full precision, so a model read back gives the labels and log-densities of the fit bit for bit. Readers ignore fields not listed here."""

MODEL_EXIT_STATUS = """\
0  success.

1  the model file is missing or invalid (the message names the file and the field), the data cannot be read, or its number of columns is not the model's D.

2  bad usage: an unknown option, a value out of range, a missing argument, two outputs on stdout.

129, 130, 143  stopped by SIGHUP, Ctrl-C (SIGINT) or SIGTERM (128 plus the signal's number); no partial output file is left behind."""

MAN_SECTIONS: dict[str, dict[str, str]] = {
    "emgmm": {
        "EXIT STATUS": EXIT_STATUS,
        "ENVIRONMENT": ENVIRONMENT,
        "FILES": MODEL_FILE,
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
        "LARGE DATA": LARGE_DATA,
        "DEGENERATE FITS": """\
A component is degenerate (a spurious maximum of the likelihood) when the smallest eigenvalue of its covariance, less --reg-covar, is below 1e-6 times the smallest non-zero column variance of the data: the component has collapsed onto a few points or a line, and only --reg-covar keeps its covariance invertible. Degenerate components are named in a warning and in the model's "degenerate" list; among restarts, a non-degenerate fit always wins over a degenerate one. A component whose weight collapses to zero keeps its last mean and covariance and is reported. A covariance that is not positive definite even with --reg-covar is an error that names the component.""",
        "EXIT STATUS": EXIT_STATUS,
        "SEE ALSO": "emgmm(1)",
    },
    "make-blobs": {
        "OUTPUT": """\
A table with columns x0..x{D-1} and, unless --no-labels, label (the blob a point was drawn from, 0..K-1); points come blob by blob, in the order of the centers. CSV on stdout by default; -o FILE writes .csv, .tsv or .npy (a float64 array) by extension. --centers-out writes the K x D centers with columns x0..x{D-1}. Random centers are drawn before the points, from the same generator, so the same --seed and options give the same bytes.""",
        "EXIT STATUS": """\
0  success.

1  an impossible request: negative sizes or standard deviations, sizes, standard deviations or covariances whose count is not the number of centers, centers or covariances whose dimension disagrees with --dim or with each other, covariances that are not symmetric positive definite, an unreadable --centers or --covariances file.

2  a value that does not parse (-n abc, --center-box 1), an option out of range, or options that exclude each other (--std with --covariances, --center-box with --centers).

129, 130, 143  stopped by SIGHUP, Ctrl-C (SIGINT) or SIGTERM (128 plus the signal's number); no partial output file is left behind.""",
        "SEE ALSO": "emgmm-fit(1)",
    },
    "predict": {
        "OUTPUT": """\
Labels: one integer 0..K-1 per line, no header; with --proba, the N x K responsibilities with columns p0..p{K-1}. On the training data they equal what fit wrote.""",
        "EXIT STATUS": MODEL_EXIT_STATUS,
        "SEE ALSO": "emgmm-fit(1), emgmm-score(1)",
    },
    "score": {
        "OUTPUT": """\
Per sample: a table with the column log_density (log p(x) under the mixture) and, with --threshold Q, outlier (1 for the points whose log-density is below the Q quantile of the log-densities, else 0). The summary: the total log-likelihood (on the training data, the model's log_likelihood) and the mean per sample; with --threshold, the number of outliers and the log-density cutoff. --json prints it as an object with the keys model, source, n_samples, log_likelihood, mean_log_likelihood and, with --threshold, threshold, cutoff_log_density, n_outliers.""",
        "EXIT STATUS": MODEL_EXIT_STATUS,
        "SEE ALSO": "emgmm-fit(1), emgmm-predict(1)",
    },
    "sample": {
        "EXIT STATUS": MODEL_EXIT_STATUS,
        "SEE ALSO": "emgmm-fit(1), emgmm-make-blobs(1)",
    },
    "info": {
        "EXIT STATUS": MODEL_EXIT_STATUS,
        "SEE ALSO": "emgmm-fit(1)",
    },
    "batch": {
        "OUTPUT": """\
For each dataset, a folder DIR/<path>/, where <path> is the dataset's path relative to the directory PATH it was found in (a file named on the command line or on stdin: relative to the working directory if it lies below it, else its name alone), without the extension: data/sub/a.csv found in data/ goes to DIR/sub/a/. It holds labels.csv, trace.csv and model.json as fit --output-dir writes them (responsibilities.csv too with --responsibilities; with --select, those of the chosen cell, and selection.csv). They are written together and atomically, model.json last: a folder is complete, or absent. Two datasets that would share a folder (a.csv and a.npy) or an output that would overwrite an input are refused before anything runs (exit status 2). Hidden files and folders, and the output directory when it lies inside a PATH, are not searched.

DIR/summary.csv: one row per dataset, in the order found (directories in name order, files before subfolders), with the columns file, rows, dims, k, covariance, iterations, converged, log_likelihood, bic, seconds and status (with --select, k to bic are the chosen cell's, and seconds those of the whole grid). status is ok, skipped (--skip-existing), or "failed: " and the reason, one line: "line 4: column 'y': non-numeric value 'abc'; ..." for a data error (the file is in its own column), "no cell could be chosen: ..." when every cell of a --select grid failed or ended degenerate (with the first cell's reason), the fit's error otherwise. Empty fields are unknown. --summary FILE writes the same table as .csv or .tsv, or as a JSON list of records.""",
        "SELECTION": """\
--select chooses each dataset's number of components and covariance family as emgmm-select(1) does, instead of fitting a fixed K: every (covariance, K) cell of -k (a range such as 1-8, a list such as 2,4,8, or both; default 1-9) and -c (all, or a list such as full,diag; default all) is fitted, and the cell with the lowest --criterion (bic, the default, aic or icl) that did not end degenerate is chosen. The cells of a dataset are fitted one after another, in the process that handles the dataset (--jobs spreads datasets, not cells, over processes), and the hierarchy of --init hc is built once per dataset.

Defaults follow the mode: --init, --n-init, --tol and --max-iter default to fit's kmeans, 1, 0.001 and 100, and with --select to select's hc, 5, 1e-7 and 2000; a value given on the command line is used in either mode. Without --select, -k is one integer >= 1 (required) and -c one family (default full); a list for either, or --criterion, without --select is bad usage (exit status 2), and so is --means-init with --select.

The chosen cell's labels.csv, trace.csv, model.json (and responsibilities.csv) are what emgmm fit writes for it, and selection.csv is the table of every cell that emgmm select --table writes (covariance_type, mclust, n_components, status, log_likelihood, n_parameters, bic, aic, icl, converged, n_iter, best, seed, message): emgmm select FILE with the batch's options and --seed gives the same table and, with --model, the same model.json, byte for byte. A cell that fails (K larger than the data allows) is shown in the table with its reason and a warning; a dataset whose every cell failed or ended degenerate is a failed row and leaves no folder.""",
        "NOTES": """\
Seeds: every dataset is fitted with the same seed, --seed or, without it, one drawn for the whole batch and recorded in each model.json. So emgmm fit FILE -k K --seed S with the batch's options gives a dataset's outputs byte for byte, and neither --jobs nor the order in which workers finish changes any result. With --select, each cell is fitted with a seed drawn from that seed and the cell alone (the seed column of selection.csv, recorded in model.json for the chosen cell), as by emgmm select --seed S; the batch's own seed is then recorded nowhere, so give --seed to be able to repeat a dataset's selection.

Parallel runs: --jobs N fits N datasets at once in processes started afresh (the spawn method), whose linear-algebra libraries use one thread each (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to 1 for them); the threads of the block reduction are shared out among the workers. A worker that dies (killed, out of memory) fails the datasets it was fitting, and the batch goes on in a new one.

Resuming: with --skip-existing, a dataset whose folder holds labels.csv, trace.csv and model.json (and responsibilities.csv if asked for) and whose model.json records the same options (K, covariance type, init or means-init, restarts, tol, max-iter, reg-covar, algorithm, and the seed if --seed is given) is not fitted again; its summary row is read from model.json, with status skipped. Failed datasets are always tried again. With --select, selection.csv must be there too and hold the same cells in the same order (with --seed, each with the seed derived from it), the cell it marks best must be the one --criterion picks from its numbers (another criterion that picks the same cell keeps the outputs, which would be the same), and model.json must be that cell's, with the same other options. Without --select, a folder holding a selection.csv is fitted again, and the selection.csv removed.

Ctrl-C stops the batch: the datasets being fitted stop at their next EM iteration and leave no file; those finished keep their outputs; summary.csv lists them; the exit status is 130. SIGTERM (kill, timeout, a scheduler) and SIGHUP do the same, with exit status 143 and 129. Run the same command with --skip-existing to finish.

Progress: on a terminal, a bar on stderr shows the datasets done of all, the elapsed time, the failures so far and the files being fitted; each failure is also printed as one line, emgmm: error: FILE: reason. The summary table follows on stdout (or stderr when stdout is not a terminal). --quiet leaves only the errors.""",
        "EXIT STATUS": """\
0  every dataset was fitted (or skipped).

1  one or more datasets failed (the last line says how many, for example: Error: 2 of 7 datasets failed; see results/summary.csv), or no dataset was found.

2  bad usage: an unknown option, a value out of range, a range or list for -k or -c, or --criterion, without --select, --means-init with --select, two datasets sharing an output folder, an output that would overwrite an input, a PATH inside the output directory.

129, 130, 143  stopped by SIGHUP, Ctrl-C (SIGINT) or SIGTERM (128 plus the signal's number); finished datasets keep their outputs, the others leave none, and summary.csv lists what was done.""",
        "SEE ALSO": "emgmm-fit(1), emgmm-select(1), find(1)",
    },
    "select": {
        "OUTPUT": """\
One row per (covariance, K) cell, family by family in the order of -c, K ascending: covariance_type, mclust (mclust's name of the family: VVV, EEE, VVI, VII), n_components, status, log_likelihood, n_parameters, bic, aic, icl, converged, n_iter, best (true for the chosen cell), seed (the cell's own seed) and message. status is ok, degenerate or failed; a failed cell has empty numbers and the reason in message. On a terminal the table is printed with the best cell marked and the reasons as numbered notes; when stdout is a pipe or a file and no --table is named, the table is written as CSV on stdout. --table FILE writes it as .csv or .tsv, or as .json: {"criterion", "seed", "source", "best": {covariance_type, n_components}, "cells": [records]}. --model FILE writes the best cell's model, the document of fit --model.""",
        "CRITERIA": """\
Lower is better, in scikit-learn's sign: BIC = -2 log L + p log N, AIC = -2 log L + 2p, ICL = BIC - 2 sum_i log max_k r_ik (BIC plus twice the entropy of the classification). mclust reports BIC with the opposite sign (mclust's BIC = -ours) and takes the largest; both pick the same cell. Ties go to the cell listed first.""",
        "DEGENERATE CELLS": """\
A fit is degenerate when a component's covariance collapsed onto the regularisation floor (see emgmm-fit(1), DEGENERATE FITS): a spurious maximum whose likelihood can be far higher than any real fit's. On Old Faithful, diag K=5 can end with BIC 2220.6 against the true best 2314.3. Within a cell, a degenerate restart loses to any restart that is not degenerate; a cell whose every restart is degenerate is shown as degenerate and never chosen (mclust reports such cells as missing).""",
        "STARTS AND CONVERGENCE": """\
--init hc (select's default) is mclust's start: model-based agglomerative hierarchical clustering (Fraley 1998) with the unconstrained VVV criterion on the data after mclust's default "SVD" transformation (standardised, rotated onto the principal axes, each scaled by the square root of its singular value), one tree for the whole grid, cut at each K. It runs on at most 2000 rows (a random subsample drawn from --seed for larger data). The tree gives one start, so restarts 2, 3, ... of each cell start from random responsibilities. --tol defaults to 1e-7 (fit's is 1e-3) and --max-iter to 2000: cells are compared by their log-likelihoods, and a fit stopped 0.3 short (what tol 1e-3 does on 272 points) can change the ranking.""",
        "NOTES": """\
Seeds: cell (covariance, K) is fitted with its own seed, a function of --seed and the cell alone (the seed column), so its result does not depend on the other cells or on --jobs. emgmm fit with the cell's options and that seed repeats the cell's fit (for data of at most 2000 rows, where the hierarchy uses every row). --jobs N fits N cells at once in processes started afresh, with one linear-algebra thread each.""",
        "EXIT STATUS": """\
0  a cell was chosen (other cells may have failed; they are shown).

1  the data could not be read, or no cell can be chosen (every one failed or ended degenerate).

2  bad usage: an unknown option, a bad -k or -c list, a --table or --model name of the wrong type.

129, 130, 143  stopped by SIGHUP, Ctrl-C (SIGINT) or SIGTERM (128 plus the signal's number); no output file is written.""",
        "SEE ALSO": "emgmm-fit(1)",
    },
}
