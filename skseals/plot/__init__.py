"""Plots of simulated runs (learning curves) and of one learner's rounds.

matplotlib is imported only when a plot is drawn (``pip install "skseals[plot]"``).
"""

from ._curves import plot_history, plot_learning_curves

__all__ = ["plot_history", "plot_learning_curves"]
