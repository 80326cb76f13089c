"""Tests of skseals.plot: learning curves, per-concept scatter, per-round history."""

import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skseals.plot import (  # noqa: E402
    plot_concept_scatter,
    plot_history,
    plot_learning_curves,
)


def _rec(config, concept, n_labeled, ap, recall):
    return {"config": config, "concept": concept, "repetition": 0,
            "round": n_labeled // 100 - 1, "n_labeled": n_labeled,
            "average_precision": ap, "recall": recall, "pool_percent": 5.0,
            "selection_seconds": 0.1, "knn_seconds": 0.1,
            "training_seconds": 0.1}  # fmt: skip


RESULTS = [
    _rec("SEALS", "c0", 100, 0.2, 0.1), _rec("SEALS", "c1", 100, 0.4, 0.3),
    _rec("SEALS", "c0", 200, 0.6, 0.5), _rec("SEALS", "c1", 200, 0.8, 0.7),
    _rec("Full", "c0", 100, 0.3, 0.2), _rec("Full", "c0", 200, 0.5, 0.4),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_learning_curves_mean_and_band():
    ax = plot_learning_curves(RESULTS)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["SEALS", "Full"]
    np.testing.assert_allclose(lines[0].get_xdata(), [100, 200])
    np.testing.assert_allclose(lines[0].get_ydata(), [0.3, 0.7])
    assert len(ax.collections) == 2  # one std band per configuration
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.2) and band.max() == pytest.approx(0.8)
    assert "Average precision" in ax.get_ylabel()


def test_learning_curves_options():
    fig, ax = plt.subplots()
    out = plot_learning_curves(
        RESULTS, "recall", x="round", ax=ax, configs=["Full"], std=False
    )
    assert out is ax and len(ax.collections) == 0
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [0, 1])
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.4])
    with pytest.raises(ValueError, match="metric"):
        plot_learning_curves(RESULTS, "accuracy")
    with pytest.raises(ValueError, match="configs"):
        plot_learning_curves(RESULTS, configs=["Nope"])


def test_learning_curves_from_frame():
    pd = pytest.importorskip("pandas")
    ax = plot_learning_curves(pd.DataFrame.from_records(RESULTS), "pool_percent")
    assert len(ax.get_lines()) == 2


def test_plot_history():
    history = [
        {"round": r, "n_labeled": 100 + 50 * r, "pool_size": 10 * r,
         "selection_seconds": 0.1 * r, "knn_seconds": 0.0,
         "training_seconds": 0.2} for r in range(4)
    ]  # fmt: skip
    ax = plot_history(history)
    assert [line.get_label() for line in ax.get_lines()] == [
        "selection",
        "knn",
        "training",
    ]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(ax.right_ax.get_lines()[0].get_ydata(), [0, 10, 20, 30])
    with pytest.raises(ValueError, match="empty"):
        plot_history([])

    from skseals import ActiveLearner

    learner = ActiveLearner()
    with pytest.raises(ValueError, match="fit a learner first"):
        plot_history(learner)
    learner.history_ = history  # as fit and teach keep it
    ax = plot_history(learner)  # the learner itself
    np.testing.assert_allclose(ax.right_ax.get_lines()[0].get_ydata(), [0, 10, 20, 30])


def test_concept_scatter_means_repetitions_at_the_last_round():
    results = RESULTS + [
        _rec("Full", "c1", 100, 0.1, 0.1), _rec("Full", "c1", 200, 0.9, 0.9),
        {**_rec("Full", "c1", 200, 0.7, 0.9), "repetition": 1},
        {**_rec("Full", "c1", 100, 0.0, 0.0), "repetition": 1},
    ]  # fmt: skip
    ax = plot_concept_scatter(results, "Full", "SEALS")
    assert ax.concepts_ == ["c0", "c1"]
    points = ax.collections[0].get_offsets()
    # c0: Full 0.5, SEALS 0.6; c1: Full mean(0.9, 0.7), SEALS 0.8 (last rounds)
    np.testing.assert_allclose(points, [[0.5, 0.6], [0.8, 0.8]])
    (diagonal,) = ax.get_lines()
    np.testing.assert_allclose(diagonal.get_xdata(), diagonal.get_ydata())
    assert "Full" in ax.get_xlabel() and "SEALS" in ax.get_ylabel()


def test_concept_scatter_at_a_label_count_and_errors():
    fig, ax = plt.subplots()
    out = plot_concept_scatter(RESULTS, "Full", "SEALS", "recall", n_labeled=100, ax=ax)
    assert out is ax and ax.concepts_ == ["c0"]  # Full ran c0 only
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[0.2, 0.1]])
    with pytest.raises(ValueError, match="configs"):
        plot_concept_scatter(RESULTS, "Full", "Nope")
    with pytest.raises(ValueError, match="metric"):
        plot_concept_scatter(RESULTS, "Full", "SEALS", "accuracy")
    with pytest.raises(ValueError, match="no concept"):
        plot_concept_scatter(RESULTS, "Full", "SEALS", n_labeled=300)


def test_learning_curves_bad_x_names_x():
    with pytest.raises(ValueError, match="^x must be one of"):
        plot_learning_curves(RESULTS, x="pool_size")


def test_learning_curves_align_runs_with_a_smaller_seed():
    # c1's seed had 98 labels: its rounds count at 100 and 200 with c0's,
    # not at points of their own.
    results = [
        _rec("A", "c0", 100, 0.2, 0.1), _rec("A", "c0", 200, 0.6, 0.5),
        {**_rec("A", "c1", 100, 0.4, 0.3), "n_labeled": 98},
        {**_rec("A", "c1", 200, 0.8, 0.7), "n_labeled": 198},
    ]  # fmt: skip
    (line,) = plot_learning_curves(results).get_lines()
    np.testing.assert_allclose(line.get_xdata(), [100, 200])
    np.testing.assert_allclose(line.get_ydata(), [0.3, 0.7])


def test_metric_nan_in_every_run_is_reported():
    no_ap = [{**r, "average_precision": float("nan")} for r in RESULTS]
    with pytest.warns(UserWarning, match="'average_precision' is NaN.*split"):
        ax = plot_learning_curves(no_ap)
    assert ax.get_lines() == []
    one = [r if r["config"] == "SEALS" else no_ap[i] for i, r in enumerate(RESULTS)]
    with pytest.warns(UserWarning, match=r"configs \['Full'\]"):
        ax = plot_learning_curves(one)
    assert [line.get_label() for line in ax.get_lines()] == ["SEALS"]
    with pytest.raises(ValueError, match="'average_precision' is NaN.*split"):
        plot_concept_scatter(no_ap, "Full", "SEALS", n_labeled=100)


def test_concept_scatter_leaves_out_a_concept_without_values():
    results = RESULTS + [_rec("Full", "c1", 100, 0.1, 0.1),
                         _rec("Full", "c1", 200, 0.9, 0.9)]  # fmt: skip
    results = [
        {**r, "average_precision": float("nan")} if r["concept"] == "c0" else r
        for r in results
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "Mean of empty slice"
        with pytest.warns(UserWarning, match=r"concepts \['c0'\]"):
            ax = plot_concept_scatter(results, "Full", "SEALS")
    assert ax.concepts_ == ["c1"]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[0.9, 0.8]])
