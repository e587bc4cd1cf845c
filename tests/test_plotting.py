"""skhidden.plotting and the pictures of ``python -m skhidden``.

Each plot is checked against the numbers it is meant to show (the drawn data
equal the estimator's outputs), not only for running.
"""

import importlib
import importlib.util
import os
import sys

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import skhidden.plotting
from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateRegressor, SequenceScaler
from skhidden.plotting import (
    early_scores,
    plot_attention,
    plot_early_classification,
    plot_hidden_states,
    plot_step_scores,
    plot_strategy_comparison,
    window_spans,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TINY = dict(
    hidden_size=4, max_epochs=3, lr=0.02, random_state=0, device="cpu", frontend="none"
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ragged():
    return make_sequences(n=24, n_steps=10, ragged=True, seed=3)


@pytest.fixture(scope="module")
def attention_model(ragged):
    return HiddenStateClassifier(aggregation=("attention", "mean"), **TINY).fit(*ragged)


@pytest.fixture(scope="module")
def search(ragged):
    return GridSearchCV(
        make_pipeline(
            SequenceScaler(), HiddenStateClassifier(**{**TINY, "max_epochs": 1})
        ),
        {"hiddenstateclassifier__aggregation": ["last", "mean", ("mean", "max")]},
        cv=2,
    ).fit(*ragged)


def test_plot_attention_draws_the_sequence_and_its_weights(attention_model, ragged):
    sequence = ragged[0][0]
    ax = plot_attention(attention_model, sequence)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.lines) == sequence.shape[1]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), sequence[:, 0])
    twin = [other for other in ax.figure.axes if other is not ax][0]
    heights = [bar.get_height() for bar in twin.patches]
    np.testing.assert_allclose(
        heights, attention_model.attention_weights([sequence])[0]
    )


def test_plots_draw_on_the_given_axes_and_accept_pipelines(ragged):
    X, y = ragged
    pipeline = make_pipeline(
        SequenceScaler(), HiddenStateClassifier(aggregation="attention", **TINY)
    ).fit(X, y)
    _, ax = plt.subplots()
    assert plot_attention(pipeline, X[1], ax=ax) is ax
    scaled = pipeline[0].transform([X[1]])
    heights = [bar.get_height() for bar in ax.figure.axes[1].patches]
    np.testing.assert_allclose(heights, pipeline[-1].attention_weights(scaled)[0])
    _, ax = plt.subplots()
    assert plot_early_classification(pipeline, X, y, ax=ax) is ax


def test_plot_attention_needs_attention(ragged):
    clf = HiddenStateClassifier(aggregation="mean", **TINY).fit(*ragged)
    with pytest.raises(ValueError, match="no attention weights"):
        plot_attention(clf, ragged[0][0])


def test_plot_hidden_states_shows_the_states(attention_model, ragged):
    sequence = ragged[0][2]
    ax = plot_hidden_states(attention_model, sequence)
    image = ax.collections[0].get_array()
    np.testing.assert_allclose(image, attention_model.hidden_states([sequence])[0].T)


# ------------------------------------------------------------- front-ends
FRONTENDS = ["none", "patch", "conv", "resnet"]
LONG = dict(TINY, frontend_window=4, max_epochs=2)


@pytest.fixture(scope="module")
def long_ragged():
    # 13-30 steps: several windows of 4, and lengths that are no multiple of
    # the stride, so the last window is cut short by the sequence's end.
    return make_sequences(n=24, n_steps=30, ragged=True, seed=5)


@pytest.fixture(scope="module", params=FRONTENDS)
def windowed_model(request, long_ragged):
    params = {**LONG, "frontend": request.param}
    return HiddenStateClassifier(aggregation=("attention", "mean"), **params).fit(
        *long_ragged
    )


@pytest.mark.parametrize(
    "frontend, starts, stops",
    [
        ("none", range(7), range(1, 8)),
        ("patch", [0, 4], [4, 7]),
        ("conv", [0, 2, 4, 6], [4, 6, 7, 7]),
        ("resnet", [0, 2, 4, 6], [4, 6, 7, 7]),
    ],
)
def test_window_spans_cover_the_steps_each_window_reads(
    long_ragged, frontend, starts, stops
):
    clf = HiddenStateClassifier(**{**LONG, "frontend": frontend, "max_epochs": 1})
    clf.fit(*long_ragged)
    found = window_spans(make_pipeline(SequenceScaler(), clf).fit(*long_ragged), 7)
    np.testing.assert_array_equal(found[0], starts)
    np.testing.assert_array_equal(found[1], stops)
    assert len(found[0]) == len(clf.hidden_states([np.zeros((7, 2))])[0])


def _x_extent(bars):
    """Leftmost and rightmost x that bar patches cover."""
    return min(b.get_x() for b in bars), max(b.get_x() + b.get_width() for b in bars)


def test_plot_attention_spans_the_whole_sequence(windowed_model, long_ragged):
    sequence = long_ragged[0][1]
    ax = plot_attention(windowed_model, sequence)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(len(sequence)))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), sequence[:, 0])
    bars = ax.figure.axes[1].patches
    weights = windowed_model.attention_weights([sequence])[0]
    np.testing.assert_allclose([bar.get_height() for bar in bars], weights)
    starts, stops = window_spans(windowed_model, len(sequence))
    np.testing.assert_allclose([bar.get_x() for bar in bars], starts - 0.5)
    np.testing.assert_allclose([bar.get_width() for bar in bars], stops - starts)
    left, right = _x_extent(bars)
    assert (left, right) == (-0.5, len(sequence) - 0.5)
    assert right - left == len(sequence)


def test_plot_hidden_states_spans_the_whole_sequence(windowed_model, long_ragged):
    sequence = long_ragged[0][1]
    ax = plot_hidden_states(windowed_model, sequence)
    mesh = ax.collections[0]
    states = windowed_model.hidden_states([sequence])[0]
    np.testing.assert_allclose(mesh.get_array(), states.T)
    x_edges = mesh.get_coordinates()[0, :, 0]
    assert len(x_edges) == len(states) + 1
    assert x_edges[-1] - x_edges[0] == len(sequence)
    starts, _ = window_spans(windowed_model, len(sequence))
    np.testing.assert_allclose(x_edges[:-1], starts - 0.5)


def test_early_scores_read_no_more_than_each_share(windowed_model, long_ragged):
    X, y = long_ragged
    frontend = windowed_model.net_.module_.frontend
    fractions = (0.1, 0.3, 0.5, 0.75, 1.0)
    lengths = np.array([len(x) for x in X])
    stages = skhidden.plotting._stages_read(frontend, lengths, fractions)
    for i, length in enumerate(lengths):
        _, stops = window_spans(windowed_model, length)
        read = stops[stages[i]]
        allowed = np.ceil(np.array(fractions) * length)
        # Within the share, except a share shorter than the first window.
        assert np.all((read <= allowed) | (stages[i] == 0))
        # The last stage that fits: the next one would read more.
        later = np.minimum(stages[i] + 1, len(stops) - 1)
        assert np.all((stops[later] > allowed) | (stages[i] == len(stops) - 1))
        assert stages[i, -1] == len(stops) - 1 and read[-1] == length
    scores = early_scores(windowed_model, X, y, fractions)
    assert scores[-1] == pytest.approx(windowed_model.score(X, y))
    ax = plot_early_classification({"model": windowed_model}, X, y, fractions=fractions)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), 100 * np.array(fractions))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), scores)


def test_early_scores_read_each_sequence_up_to_its_fraction(attention_model, ragged):
    X, y = ragged
    fractions = (0.25, 0.5, 1.0)
    scores = early_scores(attention_model, X, y, fractions)
    for fraction, score in zip(fractions, scores, strict=True):
        prefixes = [x[: int(np.ceil(fraction * len(x)))] for x in X]
        assert score == pytest.approx(attention_model.score(prefixes, y))
    assert scores[-1] == pytest.approx(attention_model.score(X, y))


def test_early_scores_of_a_regressor_are_r2(ragged):
    X, y = ragged
    reg = HiddenStateRegressor(aggregation="max", **TINY).fit(X, y.astype(float))
    assert early_scores(reg, X, y, [1.0])[0] == pytest.approx(reg.score(X, y))
    ax = plot_early_classification({"max": reg}, X, y)
    assert ax.get_ylabel() == "R²"


@pytest.mark.parametrize("fractions", [(0.0, 0.5), (0.5, 1.5), ()])
def test_early_scores_reject_fractions_outside_0_1(attention_model, ragged, fractions):
    with pytest.raises(ValueError, match="fractions"):
        early_scores(attention_model, *ragged, fractions)


def test_plot_early_classification_draws_one_curve_per_model(attention_model, ragged):
    X, y = ragged
    last = HiddenStateClassifier(aggregation="last", **TINY).fit(X, y)
    fractions = (0.2, 0.6, 1.0)
    ax = plot_early_classification([attention_model, last], X, y, fractions=fractions)
    assert [line.get_label() for line in ax.lines] == ["attention+mean", "last"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [20, 60, 100])
    np.testing.assert_allclose(
        ax.lines[1].get_ydata(), early_scores(last, X, y, fractions)
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["attention+mean", "last"]


def test_plot_strategy_comparison_shows_each_candidates_scores(search):
    results = search.cv_results_
    ax = plot_strategy_comparison(results)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["last", "mean", "mean+max"]
    means = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(means, results["mean_test_score"])
    dots = [
        c
        for c in ax.collections
        if isinstance(c, matplotlib.collections.PathCollection)
    ]
    splits = ["split0_test_score", "split1_test_score"]
    for dots_of_fold, split in zip(dots, splits, strict=True):
        np.testing.assert_allclose(dots_of_fold.get_offsets()[:, 1], results[split])
    assert ax.get_xlabel() == "aggregation"


def test_plot_strategy_comparison_names_other_parameters_when_needed():
    results = {
        "params": [
            {"aggregation": "mean", "cell": "gru"},
            {"aggregation": "mean", "cell": "lstm"},
        ],
        "mean_test_score": np.array([0.8, 0.9]),
        "std_test_score": np.array([0.01, 0.02]),
        "split0_test_score": np.array([0.79, 0.88]),
        "split1_test_score": np.array([0.81, 0.92]),
    }
    ax = plot_strategy_comparison(results)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "aggregation=mean, cell=gru",
        "aggregation=mean, cell=lstm",
    ]
    results["params"] = [{"cell": "gru", "lr": 0.1}, {"cell": "lstm", "lr": 0.1}]
    with pytest.raises(ValueError, match="param="):
        plot_strategy_comparison(results)
    ax = plot_strategy_comparison(results, param="cell")
    assert ax.get_xlabel() == "cell"


def test_plotting_imports_without_matplotlib_and_names_the_extra(monkeypatch, ragged):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    module = importlib.reload(skhidden.plotting)
    with pytest.raises(ImportError, match=r"skhidden\[plots\]"):
        module.plot_early_classification([], *ragged)
    monkeypatch.undo()
    importlib.reload(skhidden.plotting)


def test_demo_saves_its_figures_beside_the_table(tmp_path, capsys):
    pytest.importorskip("aeon")
    from skhidden.demo import main

    argv = [
        "--epochs",
        "1",
        "--hidden-size",
        "4",
        "--cv",
        "2",
        "--output",
        str(tmp_path),
    ]
    assert main(argv + ["--strategies", "mean", "attention"]) == 0
    names = {"strategy_comparison.png", "early_classification.png", "attention.png"}
    assert names <= set(os.listdir(tmp_path))
    for name in names:
        with open(tmp_path / name, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "attention.png" in capsys.readouterr().out


def test_demo_without_matplotlib_prints_a_note_and_no_figures(
    tmp_path, capsys, monkeypatch
):
    from skhidden import demo

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a),
    )
    demo._report_figures(None, {}, None, None, str(tmp_path))
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert os.listdir(tmp_path) == []


def test_plot_step_scores_draws_series_scores_threshold_and_anomalies():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(120, 2))
    scores = rng.random(120)
    labels = np.zeros(120, dtype=int)
    labels[30:34] = labels[90:91] = 1
    axes = plot_step_scores(series, scores, threshold=0.8, labels=labels)
    assert len(axes) == 2 and axes[0].figure is axes[1].figure
    drawn = [line.get_ydata() for line in axes[0].get_lines()]
    np.testing.assert_allclose(drawn[0], series[:, 0])
    np.testing.assert_allclose(drawn[1], series[:, 1])
    score_line, threshold_line = axes[1].get_lines()
    np.testing.assert_allclose(score_line.get_ydata(), scores)
    assert list(threshold_line.get_ydata()) == [0.8, 0.8]
    for ax in axes:  # one shaded span per labelled run, on every panel
        spans = [p for p in ax.patches if p.get_facecolor()[:3] != (1.0, 1.0, 1.0)]
        extents = sorted(
            (round(p.get_x() + 0.5), round(p.get_x() + p.get_width() + 0.5))
            for p in spans
        )
        assert extents == [(30, 34), (90, 91)]
    assert axes[0].get_xlim() == (-0.5, 119.5)


def test_plot_step_scores_one_panel_per_detector_on_given_axes():
    series = np.sin(np.arange(50) / 3)
    scores = {"every state": np.arange(50.0), "last state": np.ones(50)}
    fig, given = plt.subplots(3, 1)
    axes = plot_step_scores(
        series, scores, threshold={"every state": 10.0}, ax=given
    )
    assert list(axes) == list(given)
    assert [ax.get_title(loc="left") for ax in axes[1:]] == list(scores)
    assert len(axes[1].get_lines()) == 2 and len(axes[2].get_lines()) == 1
    np.testing.assert_allclose(axes[2].get_lines()[0].get_ydata(), 1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scores": np.zeros(9)}, "one score per step"),
        ({"labels": np.full(10, 2)}, "0/1 value per step"),
        ({"threshold": {"other": 1.0}}, "name no scores"),
        ({"scores": {}}, "scores is empty"),
        ({"series": np.zeros((10, 2, 2))}, "n_timesteps"),
        ({"ax": [None]}, "ax must hold 2 Axes"),
    ],
)
def test_plot_step_scores_refuses_bad_input(kwargs, match):
    arguments = {"series": np.zeros(10), "scores": np.zeros(10), **kwargs}
    series, scores = arguments.pop("series"), arguments.pop("scores")
    with pytest.raises(ValueError, match=match):
        plot_step_scores(series, scores, **arguments)
