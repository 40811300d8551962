"""Pictures: `emgmm plot` (images and text), fit --plot and --trace-plot, select --plot.

Every kind of picture is rendered to PNG and SVG and checked to be a valid image of the
size asked for, with more than two colours; the text picture is checked at 80 columns.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli

pytest.importorskip("matplotlib")
pytest.importorskip("plotext")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
SIZE = (640, 480)


def invoke(*args: Any, tty: bool = False, env: dict[str, str | None] | None = None) -> Result:
    environment = {"EMGMM_FORCE_TTY": "1" if tty else "0", "COLUMNS": "80", "NO_COLOR": None,
                   **(env or {})}
    return CliRunner().invoke(cli, [str(a) for a in args], env=environment)


def ok(*args: Any, **kwargs: Any) -> Result:
    result = invoke(*args, **kwargs)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Models of blobs4 (2-D), heights (1-D) and a 4-D blob set, with their data."""
    folder = tmp_path_factory.mktemp("plot")
    wide = folder / "wide.csv"
    ok("make-blobs", "-n", "300", "--n-centers", "3", "--dim", "4", "--seed", "2", "-o", wide)
    found = {}
    for name, data, k in (("blobs4", SAMPLE / "blobs4.csv", 4),
                          ("heights", SAMPLE / "heights.csv", 2), ("wide", wide, 3)):
        found[name] = folder / f"{name}.json"
        found[f"{name}-data"] = data
        ok("fit", data, "-k", k, "--seed", "0", "--model", found[name], "-q")
    return found


def png_colours(path: Path) -> tuple[tuple[int, int], int]:
    """(width, height) and the number of distinct colours of a PNG."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        return image.size, len(np.unique(pixels, axis=0))


def svg_colours(path: Path) -> tuple[tuple[float, float], int]:
    """(width, height) in points and the number of distinct colours of an SVG."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    size = tuple(float(root.attrib[k].removesuffix("pt")) for k in ("width", "height"))
    text = path.read_text()
    colours = set(re.findall(r"#[0-9a-fA-F]{6}\b", text))
    return (size[0], size[1]), len(colours)


def check_image(path: Path) -> None:
    if path.suffix == ".png":
        size, colours = png_colours(path)
        assert size == SIZE
    else:
        (width, height), colours = svg_colours(path)
        # 100 pixels an inch, 72 points an inch
        assert (width, height) == pytest.approx((SIZE[0] * 0.72, SIZE[1] * 0.72))
    assert colours > 2


KINDS = {
    "scatter": ("blobs4", []),
    "uncertainty": ("blobs4", ["--uncertainty"]),
    "histogram": ("heights", []),
    "principal-axes": ("wide", []),
    "dims": ("wide", ["--dims", "x3,x1"]),
}


def test_a_picture_to_standard_output_is_refused_naming_the_option(
        models: dict[str, Path]) -> None:
    """-o - (plot) or --plot - (fit, select): a picture is not written to stdout, and the
    message names the option given, not another command's."""
    said = {"-o": invoke("plot", models["blobs4"], models["blobs4-data"], "-o", "-"),
            "--plot": invoke("fit", models["blobs4-data"], "-k", 2, "--plot", "-"),
            "--trace-plot": invoke("fit", models["blobs4-data"], "-k", 2, "--trace-plot", "-")}
    for option, result in said.items():
        assert result.exit_code == 2 and result.stdout == "", result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith(f"Error: a picture is not written to standard output; give "
                               f"{option} a file named .png, .svg, .pdf"), line
    assert "in the terminal" in said["-o"].stderr and "terminal" not in said["--plot"].stderr


@pytest.mark.parametrize("suffix", [".png", ".svg"])
@pytest.mark.parametrize("kind", KINDS)
def test_plot_draws_every_kind_as_an_image(models: dict[str, Path], tmp_path: Path,
                                          kind: str, suffix: str) -> None:
    name, extra = KINDS[kind]
    out = tmp_path / f"{kind}{suffix}"
    result = ok("plot", models[name], models[f"{name}-data"], *extra, "-o", out,
                "--size", f"{SIZE[0]}x{SIZE[1]}")
    assert result.stdout == ""
    check_image(out)


@pytest.mark.parametrize("dims, message", [
    ("x1,x1", "--dims: 'x1' twice; a picture needs two different columns"),
    ("x1,x9", "--dims: no column 'x9'; the columns are x0, x1, x2, x3")])
def test_dims_that_cannot_make_a_picture_are_refused(models: dict[str, Path], tmp_path: Path,
                                                    dims: str, message: str) -> None:
    """--dims x1,x1 drew a column against itself, a diagonal line (exit 0)."""
    out = tmp_path / "p.png"
    result = invoke("plot", models["wide"], models["wide-data"], "--dims", dims, "-o", out)
    assert result.exit_code == 2 and result.stderr.splitlines()[-1] == f"Error: {message}"
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_fit_and_select_draw_their_pictures(tmp_path: Path, suffix: str) -> None:
    pictures = [tmp_path / f"{name}{suffix}" for name in ("fit", "trace", "bic")]
    ok("fit", SAMPLE / "faithful.csv", "-k", 3, "--n-init", 3, "--seed", 0, "--plot",
       pictures[0], "--trace-plot", pictures[1], "-o", tmp_path / "labels.csv")
    ok("select", SAMPLE / "faithful.csv", "-k", "1-3", "-c", "full,diag", "--n-init", 1,
       "--seed", 0, "--plot", pictures[2], "--table", tmp_path / "cells.csv")
    from PIL import Image

    for path in pictures:
        if suffix == ".png":
            with Image.open(path) as image:
                assert image.size == (800, 600)
            assert png_colours(path)[1] > 2
        else:
            assert svg_colours(path)[1] > 2


def test_a_pdf_is_written_and_a_bad_extension_refused_before_any_work(
        models: dict[str, Path], tmp_path: Path) -> None:
    pdf = tmp_path / "fig.pdf"
    ok("plot", models["blobs4"], models["blobs4-data"], "-o", pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    for args in (["plot", models["blobs4"], models["blobs4-data"], "-o", tmp_path / "f.jpg"],
                 ["fit", models["blobs4-data"], "-k", 2, "--plot", tmp_path / "f.gif"],
                 ["select", models["blobs4-data"], "-k", 2, "--plot", tmp_path / "f.txt"]):
        result = invoke(*args)  # exit 1, as for every output's extension (errors.md)
        assert result.exit_code == 1, result.stderr
        assert "a picture is written as .png, .svg, .pdf" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.pdf"]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_a_picture_too_small_for_its_labels_is_refused(models: dict[str, Path],
                                                       tmp_path: Path, suffix: str) -> None:
    """At 100x80 matplotlib's layout collapses: it said so in a UserWarning on stderr
    (exit 0, labels over the axes); now bad usage naming the size, and no file."""
    out = tmp_path / f"small{suffix}"
    result = invoke("plot", models["blobs4"], models["blobs4-data"], "-o", out, "--size",
                    "100x80")
    assert result.exit_code == 2, result.stderr
    assert (f"{out}: a picture of 100x80 leaves no room for its axes beside their labels "
            "and legend; give a larger --size") in result.stderr
    assert "Warning" not in result.stderr and not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size, ok_", [("1x1", False), ("10x5", False), ("19x8", False),
                                       ("20x7", False), ("20x8", True)])
def test_a_text_picture_too_small_to_show_anything_is_refused(
        models: dict[str, Path], size: str, ok_: bool) -> None:
    """At 1x1 the text picture was one space, at 10x5 an empty frame (exit 0); from 20x8
    on its points show."""
    result = invoke("plot", models["blobs4"], models["blobs4-data"], "--size", size)
    if ok_:
        assert result.exit_code == 0 and len(result.stdout.splitlines()) == 8
        return
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"Error: a text picture of {size} (columns x rows) leaves no room for its axes and "
        "points; it needs at least 20x8: give a larger --size (or widen the terminal)")


@pytest.mark.parametrize("size, suffix, what", [
    ("10001x600", ".png", "an image of 10001x600 pixels"),
    ("800x70000", ".svg", "an image of 800x70000 pixels"),
    ("1001x40", None, "a text picture of 1001x40 (columns x rows)"),
    ("100000x30000", None, "a text picture of 100000x30000 (columns x rows)")])
def test_a_picture_larger_than_the_largest_drawn_is_refused(
        models: dict[str, Path], tmp_path: Path, size: str, suffix: str | None,
        what: str) -> None:
    """A PNG of 70000x50000 took 14 GB and over three minutes (exit 0); a text picture of
    100000x30000 aborted the process (exit 134, no message).  Now bad usage naming the
    largest size, at once, and no file."""
    from emgmm_cli.app.plotting import IMAGE_MAX_SIDE, TERMINAL_MAX_SIZE

    out = [] if suffix is None else ["-o", tmp_path / f"big{suffix}"]
    result = invoke("plot", models["blobs4"], models["blobs4-data"], "--size", size, *out)
    most = (f"{IMAGE_MAX_SIDE}x{IMAGE_MAX_SIDE}" if suffix
            else "x".join(map(str, TERMINAL_MAX_SIZE)))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"Error: {what} is larger than the largest drawn, {most}: give a smaller --size")
    assert list(tmp_path.iterdir()) == []
    help_text = " ".join(invoke("plot", "--help").stdout.split())
    assert f"at most {most}" in help_text


def test_the_largest_text_picture_is_drawn(models: dict[str, Path]) -> None:
    """The bound is a bound, not a refusal of what it allows."""
    from emgmm_cli.app.plotting import TERMINAL_MAX_SIZE

    columns, rows = TERMINAL_MAX_SIZE
    result = invoke("plot", models["blobs4"], models["blobs4-data"], "--size",
                    f"{columns}x{rows}", "--no-color")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == rows and max(map(len, lines)) == columns


def test_a_standardized_model_is_drawn_in_the_datas_units(tmp_path: Path) -> None:
    """plot read the points in the data's units and the model's parameters in standardized
    ones: the means and ellipses sat near 0 apart from the points, and every point was
    labelled by parameters of other columns.  Now the points meet the parameters through
    the model's transform and everything is drawn in the data's units, as fit --plot
    draws its own fit."""
    import emgmm_cli
    from emgmm_cli.app.fitting import fitted_view
    from emgmm_cli.app.plotting import points_view
    from emgmm_cli.io.readers import read_points

    data = SAMPLE / "faithful.csv"
    model = tmp_path / "st.json"
    ok("fit", data, "-k", 3, "--standardize", "--seed", 0, "--model", model, "-q")
    loaded = emgmm_cli.load_model(str(model))
    fit = emgmm_cli.fit(str(data), 3, standardize=True, seed=0)
    view = points_view(loaded.params, read_points(str(data)), model=str(model),
                       transform=fit.transform)
    labels = emgmm_cli.predict(str(model), str(data))
    np.testing.assert_array_equal(view.labels, labels)
    x = np.loadtxt(data, delimiter=",", skiprows=1)
    np.testing.assert_allclose(view.x, x, rtol=1e-12)
    assert fit.transform is not None
    own = fitted_view(fit)
    np.testing.assert_array_equal(own.labels, labels)
    np.testing.assert_allclose(own.x, x, rtol=1e-12)
    for drawn in (view, own):
        np.testing.assert_allclose(drawn.means, fit.transform.to_data(loaded.params.means),
                                   rtol=1e-12)
        for k in range(3):  # each mean among the points of its component
            assert np.abs(drawn.means[k] - x[labels == k].mean(axis=0)).max() < 3.0
    ok("plot", model, data, "-o", tmp_path / "st.png")


def test_text_picture_at_80_columns(models: dict[str, Path]) -> None:
    coloured = ok("plot", models["blobs4"], models["blobs4-data"], tty=True).stdout
    assert "\x1b[" in coloured
    plain = ok("plot", models["blobs4"], models["blobs4-data"], tty=True,
               env={"NO_COLOR": "1"}).stdout
    assert "\x1b[" not in plain
    assert plain == ok("plot", models["blobs4"], models["blobs4-data"], "--no-color",
                       tty=True).stdout
    lines = plain.splitlines()
    assert max(len(line) for line in lines) == 80 and len(lines) >= 16
    assert "blobs4.csv: K=4, full covariance" in lines[0]
    body = "".join(lines[1:-3])
    assert all(str(k) in body for k in range(4)) and body.count("X") == 4  # the means
    piped = ok("plot", models["blobs4"], models["blobs4-data"]).stdout
    assert piped == plain  # a pipe gets the picture without colour, 80 columns wide


def test_text_histogram_and_uncertainty(models: dict[str, Path]) -> None:
    hist = ok("plot", models["heights"], models["heights-data"], "--size", "60x20").stdout
    lines = hist.splitlines()
    assert max(len(line) for line in lines) == 60 and "mixture" in hist and "░" in hist
    # its bars are each bin's share of the points (the picture's, a density): said so
    assert lines[-1].strip() == "height across, share of the points per bin up"
    unsure = ok("plot", models["blobs4"], models["blobs4-data"], "--uncertainty").stdout
    assert "?" in unsure


def test_without_matplotlib_a_one_line_error_names_the_extra(
        models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "plotext", None)
    image = invoke("plot", models["blobs4"], models["blobs4-data"], "-o", tmp_path / "f.png")
    assert image.exit_code == 1
    assert image.stderr == "Error: pictures need matplotlib: pip install 'emgmm[plot]'\n"
    text = invoke("plot", models["blobs4"], models["blobs4-data"])
    assert text.exit_code == 1
    assert text.stderr == ("Error: drawing in the terminal needs plotext: "
                           "pip install 'emgmm[plot]'\n")
    assert list(tmp_path.iterdir()) == []


def test_a_plain_fit_imports_no_plotting_library() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "emgmm_cli", "fit",
                           str(SAMPLE / "blobs4.csv"), "-k", "4", "--seed", "0"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    imported = {m.group(1).split(".")[0] for m in re.finditer(
        r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)", proc.stderr)}
    assert "emgmm_cli" in imported and not imported & {"matplotlib", "plotext", "PIL"}


def test_the_readme_pictures_are_what_the_script_draws(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_pictures.py"), "-o",
                           str(tmp_path)], check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    linked = re.findall(r"\]\(docs/images/([\w.-]+)\)", (ROOT / "README.md").read_text())
    assert len(linked) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(linked)
    for name in linked:
        committed, drawn = ROOT / "docs" / "images" / name, tmp_path / name
        assert png_colours(committed)[0] == png_colours(drawn)[0] == (720, 480)
        assert png_colours(drawn)[1] > 2


@pytest.mark.parametrize("suffix", [".png", ""])
def test_one_row_of_wide_data_is_drawn_on_principal_axes(models: dict[str, Path],
                                                         tmp_path: Path, suffix: str) -> None:
    """One row of 4-D data printed numpy's warnings and ended in an internal error (its
    covariance, with N - 1 = 0 degrees of freedom, is NaN: LinAlgError)."""
    one = tmp_path / "one.csv"
    one.write_text("".join(models["wide-data"].read_text().splitlines(True)[:2]))
    out = tmp_path / f"one{suffix}"
    result = ok("plot", models["wide"], one, *(["-o", out] if suffix else []),
                "--size", f"{SIZE[0]}x{SIZE[1]}" if suffix else "60x20")
    assert result.stderr == ""
    if suffix:
        check_image(out)
    else:
        assert "one.csv: K=3, full covariance" in result.stdout


def test_a_text_picture_names_its_axes_and_data_at_80_columns(models: dict[str, Path],
                                                             tmp_path: Path) -> None:
    """plotext leaves out a title or label wider than the picture: at 80 columns the
    principal axes of wide data and a long file name were not named at all."""
    lines = ok("plot", models["wide"], models["wide-data"]).stdout.splitlines()
    assert lines[-1].strip() == "principal axis 1 (86%) across, principal axis 2 (11%) up"
    wide = ok("plot", models["wide"], models["wide-data"], "--size", "120x30").stdout
    assert ("principal axis 1 (86% of the variance) across, principal axis 2 (11% of the "
            "variance) up") in wide.splitlines()[-1]
    long_name = tmp_path / ("data_" * 16 + ".csv")
    long_name.write_bytes(models["wide-data"].read_bytes())
    title = ok("plot", models["wide"], long_name, "--size", "40x12").stdout.splitlines()[0]
    assert title.strip() == "data_" * 7 + "dat…"


def test_rows_with_missing_values_are_drawn_where_they_are_and_labelled_as_predict_does(
        models: dict[str, Path], tmp_path: Path) -> None:
    """With --missing em, plot drew a row with a missing value at a made-up place (the
    column's mean in place of the value) and coloured it by that place, with no
    uncertainty: `1.0,` was drawn at (1.0, mean of x1), `,` at the data's mean, both with
    a label predict did not give them.  Now each row is labelled through its observed
    values, as predict labels it, and a row is drawn only where the coordinates drawn
    hold values; the title counts the rows left out."""
    from emgmm_cli.app import models as use
    from emgmm_cli.app.plotting import points_view
    from emgmm_cli.app.requests import ReadOptions

    rows = models["wide-data"].read_text().splitlines()
    holes = {3: 2, 7: 0, 8: 1}  # data row: the column without a value
    for row, column in holes.items():
        fields = rows[row + 1].split(",")
        fields[column] = ""
        rows[row + 1] = ",".join(fields)
    data = tmp_path / "holes.csv"
    data.write_text("\n".join(rows) + "\n")
    labels = np.array(ok("predict", models["wide"], data, "--missing", "em").stdout.split(),
                      dtype=int)
    loaded = use.load_model(str(models["wide"]))
    points = use.read_data(loaded, str(data), ReadOptions(missing="em"), print, whole=True)
    x = np.genfromtxt(data, delimiter=",", skip_header=1)
    for dims, left_out in ((None, [3, 7, 8]), (("x0", "x3"), [7])):
        view = points_view(loaded.params, points, model=str(models["wide"]), dims=dims)
        drawn = np.setdiff1d(np.arange(len(x)), left_out)
        np.testing.assert_array_equal(view.labels, labels[drawn])
        if dims is not None:
            np.testing.assert_array_equal(view.x, x[drawn][:, [0, 3]])
        missing = "row" if len(left_out) == 1 else "rows"
        assert view.title.endswith(f", {len(left_out)} {missing} with a missing value not "
                                   "shown")
    # --missing drop leaves those rows out before the picture: the title counts them too
    dropped = use.read_data(loaded, str(data), ReadOptions(missing="drop"), print, whole=True)
    view = points_view(loaded.params, dropped, model=str(models["wide"]))
    predicted = np.array(ok("predict", models["wide"], data, "--missing", "drop").stdout.split(),
                         dtype=int)  # -1 for a row left out
    np.testing.assert_array_equal(view.labels, predicted[predicted >= 0])
    assert (predicted < 0).sum() == 3
    assert view.title.endswith(", 3 rows with a missing value left out")
    out = tmp_path / "holes.png"
    ok("plot", models["wide"], data, "--missing", "em", "-o", out, "--size",
       f"{SIZE[0]}x{SIZE[1]}")
    check_image(out)


def test_every_component_of_many_has_its_own_colour(tmp_path: Path) -> None:
    """From K = 21 on, matplotlib's twenty colours came round again: components 0 and 20
    were drawn, and listed in the legend, in one colour.  Now each has its own."""
    import emgmm_cli
    from emgmm_cli.app.plotting import mixture_figure, points_view
    from emgmm_cli.io.readers import read_points

    data, model = tmp_path / "many.csv", tmp_path / "many.json"
    ok("make-blobs", "-n", 750, "--n-centers", 25, "--center-box", "-100,100", "--seed", 1,
       "-o", data)
    ok("fit", data, "-k", 25, "-c", "spherical", "--seed", 0, "--model", model, "-q")
    params = emgmm_cli.load_model(str(model)).params
    figure = mixture_figure(points_view(params, read_points(str(data)), model=str(model)))
    legend = figure.legends[0]  # beside the axes: a legend of 25 inside them hid points
    handles = legend.legend_handles[:25]
    assert len({tuple(np.round(h.get_color(), 6)) for h in handles}) == 25
    figure.savefig(io.BytesIO(), format="png")  # lays the figure out
    assert not legend.get_window_extent().overlaps(figure.axes[0].get_window_extent())
    ok("plot", model, data, "-o", tmp_path / "many.png")


def test_a_long_title_stays_within_the_image(tmp_path: Path) -> None:
    """A long file name ran past both edges of the image (its title centred and cut off
    at both ends): titles break into lines, and a word too long for one (a file name
    without spaces) is cut in its middle with '…', at every size."""
    import emgmm_cli
    from emgmm_cli.app.plotting import criterion_figure, mixture_figure, points_view, \
        trace_figure
    from emgmm_cli.io.readers import read_points

    name = "experiment_2026_run_17_condition_B_replicate_3_filtered_and_cleaned_final.csv"
    data = tmp_path / name
    data.write_text((SAMPLE / "faithful.csv").read_text())
    fitted = emgmm_cli.fit(str(data), 3, seed=0)
    selected = emgmm_cli.select(str(data), [1, 2], ["full"], seed=0, n_init=1)
    for size in ((600, 450), (300, 300), (1600, 900)):
        view = points_view(fitted.params, read_points(str(data)), model="m.json")
        for figure in (mixture_figure(view, size=size),
                       criterion_figure(selected.selection, source=str(data), size=size),
                       trace_figure(fitted.result, source=str(data), size=size)):
            figure.savefig(io.BytesIO(), format="png")  # lays the figure out
            title = figure.axes[0].title
            box = title.get_window_extent()
            assert 0 <= box.x0 and box.x1 <= figure.bbox.width, (size, title.get_text())
            assert "replicate" in title.get_text() or "…" in title.get_text()


@pytest.mark.parametrize("suffix", [".png", ""])
def test_uncertainty_of_one_column_data_is_refused(models: dict[str, Path], tmp_path: Path,
                                                   suffix: str) -> None:
    """plot --uncertainty of one-column data drew the histogram as without it (exit 0): the
    help promised points shaded by their uncertainty.  Now it is bad usage, and no file."""
    out = ["-o", tmp_path / f"h{suffix}"] if suffix else []
    result = invoke("plot", models["heights"], models["heights-data"], "--uncertainty", *out)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "Error: --uncertainty shades the points of a scatter, and one-column data (height) "
        "are drawn as a histogram; leave --uncertainty out")
    assert list(tmp_path.iterdir()) == []


def test_whole_number_axes_have_whole_number_ticks() -> None:
    """select --plot with one K (-k 2) had ticks at 1.96, 1.98, 2.00, ...: matplotlib's
    integer locator gives up where it finds fewer than two whole numbers in view.  The
    criterion's K axis and the trace's iteration axis tick at whole numbers only."""
    import emgmm_cli
    from emgmm_cli.app.plotting import criterion_figure, trace_figure

    x = np.loadtxt(SAMPLE / "faithful.csv", delimiter=",", skiprows=1)
    for ks in ([2], range(1, 4), range(1, 31)):
        selected = emgmm_cli.select(x, ks, ["full", "diag"], seed=0, n_init=1)
        figure = criterion_figure(selected.selection, source="faithful.csv")
        figure.savefig(io.BytesIO(), format="png")
        ticks = figure.axes[0].get_xticks()
        assert len(ticks) and (ticks == np.round(ticks)).all(), (list(ks), ticks)
        if len(ks) <= 3:
            assert ticks.tolist() == list(ks)
    for max_iter in (1, 3):
        result = emgmm_cli.fit(x, 2, seed=0, max_iter=max_iter).result
        figure = trace_figure(result, source="faithful.csv")
        figure.savefig(io.BytesIO(), format="png")
        shown = {t.iteration for trace in result.restart_traces for t in trace}
        assert figure.axes[0].get_xticks().tolist() == sorted(shown)
        assert min(shown) == 1 and max(shown) <= max_iter


@pytest.mark.parametrize("target", ["picture.png", "text"])
def test_data_a_picture_cannot_draw_is_a_one_line_error(models: dict[str, Path],
                                                        tmp_path: Path, target: str) -> None:
    """Rows that each miss a coordinate drawn (--missing em), and coordinates near the
    float range, are the data's error, exit 1, in pictures and text alike.  They were an
    internal error (a reduction over no rows), matplotlib's overflow warnings then an
    internal error, or with 1e308 beside 0 the warnings and exit 0."""
    where = ["-o", tmp_path / target] if target != "text" else ["--size", "40x12"]
    columns = "x,y"  # blobs4's
    holes = tmp_path / "holes.csv"
    holes.write_text(f"{columns}\n1,\n,2\n")
    huge = tmp_path / "huge.csv"
    for path, rows, says in (
            (holes, None, "no row holds every coordinate the picture draws (each misses a "
                          "value); nothing to draw"),
            (huge, "1e308,0\n1,1\n", "coordinates of 1e+308 (the rows', or the means' and "
                                     "their spread's) are beyond what a picture can draw "
                                     "(magnitudes up to 1e+300); scale the data"),
            (huge, "1.7e308,-1.7e308\n1,1\n", "coordinates of 1.7e+308")):
        if rows is not None:
            path.write_text(f"{columns}\n{rows}")
        result = invoke("plot", models["blobs4"], path, "--missing", "em", *where)
        assert result.exit_code == 1, result.stderr
        assert result.stderr.startswith(f"Error: {path}: {says}")
        assert result.stderr.count("\n") == 1
    assert not (tmp_path / target).exists()
    # the largest a picture draws
    huge.write_text(f"{columns}\n1e299,0\n1,1\n")
    assert invoke("plot", models["blobs4"], huge, *where).stderr == ""


def test_rows_far_out_are_drawn_without_numpy_warnings(models: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """A row at 1e200 in 4-D data: the principal axes' covariance overflowed (numpy's
    warning, the axes "nan% of the variance", the row not drawn), rows at +-1e300 gave an
    internal error (LinAlgError); in 1-D data the density curves overflowed (warnings)."""
    import warnings

    wide = np.zeros((3, 4))
    wide[1] = 1.0
    wide[2, 0] = 1e200
    np.savetxt(tmp_path / "wide.csv", wide, delimiter=",", header="x0,x1,x2,x3", comments="")
    far = np.array([[0.0, 0, 0, 0], [1e150, 1e150, 1e150, 1e150], [-1e300, 1e300, 0, 0]])
    np.savetxt(tmp_path / "far.csv", far, delimiter=",", header="x0,x1,x2,x3", comments="")
    header = (SAMPLE / "heights.csv").read_text().splitlines()[0]
    (tmp_path / "tall.csv").write_text(f"{header}\n1.7\n1e200\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = ok("plot", models["wide"], tmp_path / "wide.csv", "--size", "60x15").stdout
        assert "principal axis 1 (100%) across" in text and "nan" not in text
        ok("plot", models["wide"], tmp_path / "far.csv", "-o", tmp_path / "far.png")
        ok("plot", models["heights"], tmp_path / "tall.csv", "-o", tmp_path / "tall.png")
    assert (tmp_path / "far.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
