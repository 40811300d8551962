"""The model file: load_model validates every field, and each fault is one exact line.

Models are fitted once per module on sample_data/blobs4.csv (x, y); each invalid case
edits a copy of the document, and is checked both through load_model (the DataError's
text) and through `emgmm info` (that line on stderr, exit status 1).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from emgmm_cli.cli.main import cli
from emgmm_cli.io import DataError, LoadedModel, load_model, read_points
from emgmm_cli.io.model import MODEL_VERSION, REQUIRED_FIELDS, check_features

BLOBS = Path(__file__).resolve().parent.parent / "sample_data" / "blobs4.csv"
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

Doc = dict[str, Any]


def fit_model(folder: Path, covariance_type: str) -> Path:
    path = folder / f"{covariance_type}.json"
    result = CliRunner().invoke(cli, [
        "fit", str(BLOBS), "-k", "4", "-c", covariance_type,
        "--seed", "0", "--model", str(path), "-o", str(folder / f"{covariance_type}-labels.csv"),
    ])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {t: fit_model(folder, t) for t in COVARIANCE_TYPES}


@pytest.fixture(scope="module")
def full_doc(models: dict[str, Path]) -> Doc:
    doc: Doc = json.loads(models["full"].read_text())
    return doc


def write_doc(folder: Path, doc: Any, name: str = "model.json") -> str:
    path = folder / name
    path.write_text(json.dumps(doc, indent=2))
    return str(path)


def info_error(path: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["info", path])
    return result.exit_code, result.stderr


# --- valid files --------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_load_model_round_trips_the_parameters(models: dict[str, Path], covariance_type: str) -> None:
    path = models[covariance_type]
    doc = json.loads(path.read_text())
    model = load_model(str(path))
    assert isinstance(model, LoadedModel)
    assert model.document == doc
    assert model.path == str(path)
    assert (model.n_components, model.n_features) == (4, 2)
    assert model.feature_names == ["x", "y"]
    assert model.params.covariance_type == covariance_type
    # full precision: the arrays come back bit for bit
    assert np.array_equal(model.params.weights, np.array(doc["weights"]))
    assert np.array_equal(model.params.means, np.array(doc["means"]))
    assert np.array_equal(model.params.covariances, np.array(doc["covariances"]))


def test_extra_fields_are_ignored(tmp_path: Path, full_doc: Doc) -> None:
    doc = {**full_doc, "comment": "hand-edited", "options": {**full_doc["options"], "x": 1}}
    model = load_model(write_doc(tmp_path, doc))
    assert model.document["comment"] == "hand-edited"


def test_weights_within_tolerance_of_one_are_accepted(tmp_path: Path, full_doc: Doc) -> None:
    doc = copy.deepcopy(full_doc)
    doc["weights"] = [w * (1 + 1e-9) for w in doc["weights"]]
    assert load_model(write_doc(tmp_path, doc)).n_components == 4


def test_a_byte_order_mark_is_accepted(tmp_path: Path, full_doc: Doc) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(full_doc).encode())
    assert load_model(str(path)).n_features == 2


# --- invalid files: one exact message each ------------------------------------------------


def edit(change: Callable[[Doc], object]) -> Callable[[Doc], Doc]:
    def apply(doc: Doc) -> Doc:
        new = copy.deepcopy(doc)
        change(new)
        return new

    return apply


def set_field(name: str, value: Any) -> Callable[[Doc], Doc]:
    def change(doc: Doc) -> None:
        if "." in name:
            outer, inner = name.split(".")
            doc[outer][inner] = value
        else:
            doc[name] = value

    return edit(change)


def drop(*names: str) -> Callable[[Doc], Doc]:
    def change(doc: Doc) -> None:
        for name in names:
            if "." in name:
                outer, inner = name.split(".")
                del doc[outer][inner]
            else:
                del doc[name]

    return edit(change)


def set_cov(i: int, j: int, value: float, component: int = 1) -> Callable[[Doc], Doc]:
    def change(doc: Doc) -> None:
        doc["covariances"][component][i][j] = value

    return edit(change)


HOW = "write one with emgmm fit --model FILE.json"

INVALID_DOCUMENTS: list[tuple[str, Callable[[Doc], Any], str]] = [
    ("a list", lambda d: [d], f"not an emgmm model: the JSON holds a list, not an object; {HOW}"),
    ("a number", lambda d: 3, f"not an emgmm model: the JSON holds a number, not an object; {HOW}"),
    ("unknown format", set_field("format", "sklearn-gmm"),
     f"not an emgmm model file (format 'sklearn-gmm'; expected format 'emgmm-model'); {HOW}"),
    ("no format", drop("format"),
     f"not an emgmm model file (no 'format' field; expected format 'emgmm-model'); {HOW}"),
    ("no version", drop("version"),
     ("missing field 'version'; a model file says which version of the 'emgmm-model' format "
      "it holds")),
    ("newer version", set_field("version", 3),
     (f"model format version 3 is newer than this emgmm reads (version {MODEL_VERSION}); "
      "upgrade emgmm")),
    ("version 0", set_field("version", 0),
     "unknown model format version 0; this emgmm reads versions 1 to 2"),
    ("version as text", set_field("version", "1"),
     "unknown model format version \"1\"; this emgmm reads versions 1 to 2"),
    ("missing one field", drop("bic"),
     f"missing field 'bic'; the model file is incomplete ({HOW})"),
    ("missing fields", drop("means", "weights"),
     f"missing fields 'weights', 'means'; the model file is incomplete ({HOW})"),
    ("missing option", drop("options.tol"),
     "missing field 'options.tol'; the model file is incomplete"),
    ("unknown covariance type", set_field("covariance_type", "banana"),
     ("field 'covariance_type': unknown covariance type \"banana\"; expected one of EII, "
     "spherical, EEI, VEI, EVI, diag, tied, VEE, EVE, VVE, EEV, VEV, EVV, full, E, V")),
    ("zero components", set_field("n_components", 0),
     "field 'n_components': expected an integer >= 1, got 0"),
    ("n_features as text", set_field("n_features", "2"),
     "field 'n_features': expected an integer >= 1, got \"2\""),
    ("feature names not strings", set_field("feature_names", ["x", 2]),
     "field 'feature_names': expected a list of column names (strings)"),
    ("too few feature names", set_field("feature_names", ["x"]),
     "field 'feature_names': 1 names for n_features=2"),
    ("a feature name twice", set_field("feature_names", ["x", "x"]),
     "field 'feature_names': the name \"x\" is given twice; predict and score select "
     "columns by these names"),
    ("weights shape", edit(lambda d: d["weights"].pop()),
     "field 'weights': has shape (3) but n_components and n_features need K (4)"),
    ("means shape", edit(lambda d: [row.append(0.0) for row in d["means"]]),
     "field 'means': has shape (4 x 3) but n_components and n_features need K x D (4 x 2)"),
    ("means ragged", edit(lambda d: d["means"][2].append(0.0)),
     "field 'means': rows of different lengths; expected K x D (4 x 2)"),
    ("means not numbers", set_field("means", [[1, 2], [3, "a"], [5, 6], [7, 8]]),
     "field 'means': expected a K x D list of numbers"),
    ("means with null", set_field("means", [[1, 2], [3, None], [5, 6], [7, 8]]),
     "field 'means': expected a K x D list of numbers"),
    ("means not finite", set_field("means", [[1, 2], [3, float("nan")], [5, 6], [7, 8]]),
     "field 'means': holds a value that is not finite"),
    ("covariances a number", set_field("covariances", 1.0),  # was "a K x D x D for full
     "field 'covariances': expected a K x D x D list of numbers for full"),  # list of ..."
    ("covariances shape", edit(lambda d: d["covariances"].pop()),
     ("field 'covariances': has shape (3 x 2 x 2) but n_components and n_features need "
      "K x D x D for full (4 x 2 x 2)")),
    ("negative weight", set_field("weights", [0.5, 0.6, -0.2, 0.1]),
     "field 'weights': weight 2 is negative (-0.2); weights must be >= 0 and sum to 1"),
    ("weights not summing to 1", set_field("weights", [0.3, 0.3, 0.2, 0.1]),
     "field 'weights': the weights sum to 0.9, not 1"),
    ("covariance not symmetric", set_cov(0, 1, 0.5),
     "field 'covariances': component 1: covariance is not symmetric"),
    ("covariance not positive definite",
     edit(lambda d: d["covariances"].__setitem__(2, [[1.0, 2.0], [2.0, 1.0]])),
     "field 'covariances': component 2: covariance is not positive definite"),
    ("zero variance", edit(lambda d: d["covariances"].__setitem__(3, [[0.0, 0.0], [0.0, 1.0]])),
     "field 'covariances': component 3: covariance is not positive definite"),
    ("converged as text", set_field("converged", "yes"),
     "field 'converged': expected true or false, got \"yes\""),
    ("origin a number", set_field("origin", 3),
     "field 'origin': expected one of kmeans, k-means++, random, random-from-data, hc, means-init, init-model, hc-mclust, split-merge, hc-family, got 3"),
    ("origin unknown", set_field("origin", "banana"),  # was taken as it was
     "field 'origin': expected one of kmeans, k-means++, random, random-from-data, hc, means-init, init-model, hc-mclust, split-merge, hc-family, got \"banana\""),
    ("restart_origins not strings", set_field("restart_origins", ["kmeans", None]),
     "field 'restart_origins': expected a list of kmeans, k-means++, random, random-from-data, hc, means-init, init-model, hc-mclust, split-merge, hc-family, got [\"kmeans\", null]"),
    ("an event without its message", set_field("events", [{"kind": 1}]),  # was taken
     "field 'events': expected a list of objects with kind and message (strings), component "
     "(an index or null) and iteration (an integer >= 0 or null), got [{\"kind\": 1}]"),
    ("options of another family",  # was taken, and info said both
     edit(lambda d: d["options"].__setitem__("covariance_type", "diag")),
     "field 'options.covariance_type': \"diag\" disagrees with covariance_type \"full\""),
    ("options of another K", edit(lambda d: d["options"].__setitem__("n_components", 5)),
     "field 'options.n_components': 5 disagrees with n_components 4"),
    ("degenerate out of range", set_field("degenerate", [7]),
     "field 'degenerate': expected a list of component indices, got [7]"),
    ("bic as text", set_field("bic", "low"),
     "field 'bic': expected a finite number or null, got \"low\""),
    ("log_likelihood NaN", set_field("log_likelihood", float("nan")),
     "field 'log_likelihood': expected a finite number or null, got NaN"),
    ("mean_log_likelihood -Infinity", set_field("mean_log_likelihood", float("-inf")),
     "field 'mean_log_likelihood': expected a finite number or null, got -Infinity"),
    ("icl Infinity", set_field("icl", float("inf")),
     "field 'icl': expected a finite number or null, got Infinity"),
    ("restart log-likelihood NaN", set_field("restart_log_likelihoods", [1.0, float("nan")]),
     "field 'restart_log_likelihoods': expected a list of finite numbers or nulls, one for "
     "each restart, got "
     "[1.0, NaN]"),
    ("sum_of_weights NaN", set_field("sum_of_weights", float("nan")),
     "field 'sum_of_weights': expected a finite number > 0, got NaN"),
    ("n_dropped NaN", set_field("n_dropped", float("nan")),
     "field 'n_dropped': expected an integer >= 0, got NaN"),
    ("weights Infinity", set_field("weights", [0.25, 0.25, float("inf"), 0.25]),
     "field 'weights': holds a value that is not finite"),
    ("options not an object", set_field("options", []),
     "field 'options': expected an object, got []"),
    ("option of the wrong type", set_field("options.seed", "zero"),
     "field 'options.seed': expected an integer from 0 to 9007199254740991 or null, got "
     "\"zero\""),
]


@pytest.mark.parametrize("case, change, message", INVALID_DOCUMENTS,
                         ids=[c[0] for c in INVALID_DOCUMENTS])
def test_invalid_document_is_one_line_data_error(
    tmp_path: Path, full_doc: Doc, case: str, change: Callable[[Doc], Any], message: str
) -> None:
    path = write_doc(tmp_path, change(full_doc))
    with pytest.raises(DataError, match=re.escape(f"{path}: {message}")) as info:
        load_model(path)
    assert str(info.value) == f"{path}: {message}"
    code, err = info_error(path)
    assert code == 1
    assert err == f"Error: {path}: {message}\n"


def other_family(models: dict[str, Path], covariance_type: str) -> Doc:
    doc: Doc = json.loads(models[covariance_type].read_text())
    return doc


@pytest.mark.parametrize("covariance_type, change, message", [
    ("tied", lambda d: d["covariances"][0].__setitem__(1, 9.0),
     "field 'covariances': the tied covariance is not symmetric"),
    ("tied", lambda d: d.__setitem__("covariances", [[1.0, 3.0], [3.0, 1.0]]),
     "field 'covariances': the tied covariance is not positive definite"),
    ("diag", lambda d: d["covariances"][1].__setitem__(0, -1.0),
     "field 'covariances': component 1: covariance is not positive definite"),
    ("spherical", lambda d: d["covariances"].__setitem__(0, 0.0),
     "field 'covariances': component 0: covariance is not positive definite"),
    ("spherical", lambda d: d["covariances"].append(1.0),
     ("field 'covariances': has shape (5) but n_components and n_features need K for "
      "spherical (4)")),
    ("diag", lambda d: d.__setitem__("covariances", d["covariances"][0]),
     ("field 'covariances': has shape (2) but n_components and n_features need K x D for diag "
      "(4 x 2)")),
])
def test_invalid_covariances_of_each_family(
    tmp_path: Path, models: dict[str, Path], covariance_type: str,
    change: Callable[[Doc], Any], message: str,
) -> None:
    doc = other_family(models, covariance_type)
    change(doc)
    path = write_doc(tmp_path, doc)
    with pytest.raises(DataError) as info:
        load_model(path)
    assert str(info.value) == f"{path}: {message}"


#: What the components of each family share, by its name (Celeux and Govaert 1995: the
#: letters of volume, shape and orientation, E equal, V varying, I the axes).
SHARED = {"VEI": {"shape"}, "EVI": {"volume"}, "VVI": set(), "VEE": {"shape", "orientation"},
          "EVE": {"volume", "orientation"}, "VVE": {"orientation"}, "EEV": {"volume", "shape"},
          "VEV": {"shape"}, "EVV": {"volume"}, "VVV": set()}


def _changed(cov: Any, change: str) -> Any:
    """Component 1's covariance (a matrix, or a diagonal's variances) with only its volume,
    its shape (its eigenvalues stretched at the same volume) or its orientation (turned
    by 0.4 radians) changed."""
    c = np.asarray(cov, dtype=float)
    if change == "volume":
        return (1.1 * c).tolist()
    if c.ndim == 1:
        return (c * [1.3, 1 / 1.3]).tolist()
    values, vectors = np.linalg.eigh(c)
    if change == "shape":
        return (vectors @ np.diag(values * [1.3, 1 / 1.3]) @ vectors.T).tolist()
    turn = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])
    return (turn @ c @ turn.T).tolist()


@pytest.fixture(scope="module")
def constrained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Doc]:
    folder = tmp_path_factory.mktemp("constrained")
    return {name: json.loads(fit_model(folder, name).read_text()) for name in SHARED}


@pytest.mark.parametrize("name, change", [
    (name, change) for name in SHARED for change in ("volume", "shape", "orientation")
    if not (change == "orientation" and name.endswith("I"))])  # a diagonal's are the axes
def test_covariances_keep_what_their_family_shares(
        tmp_path: Path, constrained: dict[str, Doc], name: str, change: str) -> None:
    doc = copy.deepcopy(constrained[name])
    load_model(write_doc(tmp_path, doc, "fitted.json"))  # as fitted: shared to rounding
    doc["covariances"][1] = _changed(doc["covariances"][1], change)
    path = write_doc(tmp_path, doc)
    if change not in SHARED[name]:
        assert load_model(path).params.n_components == 4
        return
    message = (f"{path}: field 'covariances': component 1's covariance has another {change} "
               f"than component 0's, where {name} gives every component one {change}")
    with pytest.raises(DataError) as info:
        load_model(path)
    assert str(info.value) == message
    assert info_error(path) == (1, f"Error: {message}\n")


def test_shared_volume_allows_the_rounding_of_ill_conditioned_covariances(
        tmp_path: Path, constrained: dict[str, Doc]) -> None:
    """Entries rounded to float64 fix a small eigenvalue only to about eps times the
    largest: a common volume is checked to that, not to EQUAL_RTOL alone."""
    doc = copy.deepcopy(constrained["EVV"])
    turn = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    base = np.diag([1e6, 1e-6])  # volume 1, condition number 1e12
    doc["covariances"] = [base.tolist(), (turn @ base @ turn.T).tolist(),
                          (turn.T @ base @ turn).tolist(), base.tolist()]
    assert load_model(write_doc(tmp_path, doc)).params.n_components == 4
    doc["covariances"][2] = (1.05 * turn.T @ base @ turn).tolist()
    with pytest.raises(DataError, match="component 2's covariance has another volume"):
        load_model(write_doc(tmp_path, doc))


def test_a_model_whose_floor_is_its_smallest_variance_is_read_back(tmp_path: Path) -> None:
    """A column of 1e12 values beside one of 1e-12: the fit's floor (reg_covar 1e-6) is
    the second column's variance, beside 1e24 in the first, and fit wrote a model that
    info, predict and score refused as not positive definite (the reader checked every
    file as a fit without a floor: for a rank short by rounding).  Each file is checked
    with its own floor, options.reg_covar; with 0, as before."""
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0, 1e12, 200), rng.normal(0, 1e-12, 200)]
    x[:100, 0] += 5e12
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="big,tiny", comments="")
    fitted = CliRunner().invoke(cli, ["fit", str(tmp_path / "d.csv"), "-k", "2", "--seed",
                                      "0", "--model", str(tmp_path / "m.json"), "-o",
                                      str(tmp_path / "l.csv")])
    assert fitted.exit_code == 0, fitted.stderr
    labels = [int(v) for v in (tmp_path / "l.csv").read_text().split()]
    model = load_model(str(tmp_path / "m.json"))
    assert model.params.covariances[:, 1, 1] == pytest.approx(1e-6, rel=1e-3)
    predicted = CliRunner().invoke(cli, ["predict", str(tmp_path / "m.json"),
                                         str(tmp_path / "d.csv")])
    assert predicted.exit_code == 0 and [int(v) for v in predicted.stdout.split()] == labels
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["options"]["reg_covar"] = 0.0  # the same covariances from a fit without a floor
    with pytest.raises(DataError, match="covariance is not positive definite"):
        load_model(write_doc(tmp_path, doc))


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "emgmm-model",\n  "version": \n')
    message = (f"{path}:4: invalid JSON: Expecting value (column 1); a model file is the JSON "
               "document that emgmm fit --model writes")
    with pytest.raises(DataError) as info:
        load_model(str(path))
    assert str(info.value) == message
    assert info_error(str(path)) == (1, f"Error: {message}\n")


@pytest.mark.parametrize("where", ["top", "options"])
def test_a_field_given_twice_is_refused(tmp_path: Path, full_doc: Doc, where: str) -> None:
    """json keeps the last of a repeated name, silently: a file edited by hand with a
    second "means" was used with it, the first never read."""
    text = json.dumps(full_doc)
    if where == "top":
        text = text[:-1] + ', "means": [[0, 0], [5, 5], [9, 9], [1, 1]]}'
        name = "means"
    else:
        text = text.replace('"options": {', '"options": {"seed": 7, ', 1)
        name = "seed"
    path = tmp_path / "twice.json"
    path.write_text(text)
    assert info_error(str(path)) == (
        1, f'Error: {path}: invalid JSON: field "{name}" is given twice in one object; a model '
           "file is the JSON document that emgmm fit --model writes\n")


def test_an_integer_too_long_to_convert_is_invalid_json(tmp_path: Path) -> None:
    """n_samples written with 5001 digits: Python refuses to convert such an integer
    (ValueError), which was an internal error in every command that reads a model."""
    path = tmp_path / "long.json"
    path.write_text('{"format": "emgmm-model", "n_samples": 1' + "0" * 5000 + "}")
    code, said = info_error(str(path))
    assert code == 1 and said.startswith(f"Error: {path}: invalid JSON: Exceeds the limit ")
    assert said.endswith("digits; a model file is the JSON document that emgmm fit --model "
                         "writes\n") and said.count("\n") == 1  # (Python's words between)


@pytest.mark.parametrize("field", ["means", "log_likelihood", "seed"])
def test_a_whole_number_beyond_float64_is_invalid_json(tmp_path: Path, field: str,
                                                        full_doc: Doc) -> None:
    """A whole number of 401 digits in any numeric field (a mean, the log-likelihood, an
    option) raised OverflowError where the field was converted: "internal error", exit 1,
    and a traceback through the Python API."""
    doc = copy.deepcopy(full_doc)
    if field == "means":
        doc["means"][0][0] = 10 ** 400
    elif field == "seed":
        doc["options"]["seed"] = 10 ** 400
    else:
        doc[field] = -(10 ** 400)
    path = write_doc(tmp_path, doc)
    code, said = info_error(path)
    assert code == 1 and said == (
        f"Error: {path}: invalid JSON: the number {'-' if field == 'log_likelihood' else ''}"
        f"{'1' + '0' * (10 if field == 'log_likelihood' else 11)}... (401 digits) is beyond "
        "the range of float64 numbers; a model file is the JSON document that emgmm fit "
        "--model writes\n")
    with pytest.raises(DataError):
        load_model(path)


@pytest.mark.parametrize("content, message", [
    (b"", f"model file is empty; {HOW}"),
    (b"  \n", f"model file is empty; {HOW}"),
    (b"\xff\xfe\x00\x01", f"not a model file (not UTF-8 JSON text); {HOW}"),
])
def test_empty_or_binary_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    assert info_error(str(path)) == (1, f"Error: {path}: {message}\n")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert info_error(str(missing)) == (
        1, f"Error: {missing}: model file not found; check the path, or {HOW}\n")
    assert info_error(str(tmp_path)) == (1, f"Error: {tmp_path}: is a directory, not a model file\n")


def test_a_model_is_not_read_from_stdin() -> None:
    result = CliRunner().invoke(cli, ["info", "-"], input="{}")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: <stdin>: a model is read from a file, not from standard input; {HOW}\n")


def test_every_required_field_is_checked(tmp_path: Path, full_doc: Doc) -> None:
    assert set(REQUIRED_FIELDS) <= set(full_doc)
    for name in REQUIRED_FIELDS:
        if name in ("format", "version"):
            continue
        doc = {k: v for k, v in full_doc.items() if k != name}
        with pytest.raises(DataError, match=re.escape(f"missing field '{name}'")):
            load_model(write_doc(tmp_path, doc))


@pytest.mark.parametrize("field, value, expected", [
    ("options.dtype", "float16", 'expected float64 or float32, got "float16"'),
    ("stopped", 5, "expected one of converged, max-iter, time limit, degenerate, or null, got 5"),
    ("stopped", "banana", "expected one of converged, max-iter, time limit, degenerate, or null, got \"banana\""),
    ("restart_stopped", 5, "expected a list of converged, max-iter, time limit, degenerate or nulls, got 5"),
    ("restart_log_likelihoods", [], "expected a list of finite numbers or nulls, one for "
                                    "each restart, got []"),
    ("source_size", -1, "expected an integer >= 0, got -1"),
])
def test_the_record_fields_info_shows_are_checked(tmp_path: Path, full_doc: Doc, field: str,
                                                  value: Any, expected: str) -> None:
    """Accepted, then shown by info as they were: a dtype of float16, stopped 5, no
    restart at all (and batch's source_size, which --skip-existing compares)."""
    doc = copy.deepcopy(full_doc)
    if field.startswith("options."):
        doc["options"][field.removeprefix("options.")] = value
    else:
        doc[field] = value
    path = write_doc(tmp_path, doc)
    assert info_error(path) == (1, f"Error: {path}: field '{field}': {expected}\n")


# --- data against the model -----------------------------------------------------------------


def with_truth(folder: Path) -> Path:
    """blobs4.csv with its truth as a third column, label."""
    truth = (BLOBS.parent / "blobs4.labels.csv").read_text().splitlines()
    lines = BLOBS.read_text().splitlines()
    path = folder / "labelled.csv"
    path.write_text("".join(f"{a},{b}\n" for a, b in zip(lines, ["label", *truth])))
    return path


def test_check_features_refuses_another_column_count(models: dict[str, Path],
                                                     tmp_path: Path) -> None:
    model = load_model(str(models["full"]))
    data = with_truth(tmp_path)
    points = read_points(str(data))  # x, y, label
    with pytest.raises(DataError) as info:
        check_features(model, points)
    assert str(info.value) == (
        f"{data}: has 3 columns (x, y, label) but the model {models['full']} has 2 (x, y); "
        "select 2 columns with --columns")
    check_features(model, read_points(str(data), columns=["x", "y"]))


@pytest.mark.parametrize("command", ["predict", "score"])
def test_commands_refuse_data_with_another_column_count(models: dict[str, Path], command: str,
                                                        tmp_path: Path) -> None:
    path, data = models["full"], with_truth(tmp_path)
    result = CliRunner().invoke(cli, [command, str(path), str(data), "--columns", "x,y,label"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {data}: has 3 columns (x, y, label) but the model {path} has 2 (x, y); "
        "select 2 columns with --columns\n")
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["predict", "score", "sample", "info"])
def test_every_model_command_refuses_an_invalid_model(
    tmp_path: Path, full_doc: Doc, command: str
) -> None:
    path = write_doc(tmp_path, {**full_doc, "version": 99})
    args = [command, path] + ([str(BLOBS)] if command in ("predict", "score") else [])
    args += ["-n", "5"] if command == "sample" else []
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {path}: model format version 99 is newer than this emgmm "
                             "reads (version 2); upgrade emgmm\n")
