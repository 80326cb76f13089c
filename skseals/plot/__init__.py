"""Plots of simulated runs (learning curves, per-concept comparisons) and of one
learner's rounds.

matplotlib is imported only when a plot is drawn (``pip install "skseals[plot]"``).
"""

from ._curves import plot_history, plot_learning_curves
from ._scatter import plot_concept_scatter

__all__ = ["plot_concept_scatter", "plot_history", "plot_learning_curves"]
