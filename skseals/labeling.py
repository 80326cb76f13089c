"""A person in the loop: answer one row at a time, undo within the batch.

:class:`LabelingSession` drives a fitted :class:`~skseals.ActiveSearcher` or
:class:`~skseals.ActiveLearner` one answer at a time, for a terminal (the
``skseals label`` command is built on it), a notebook or any other interface.
``ipywidgets`` is optional and imported only by :meth:`LabelingSession.widget`.

Undo, honestly: a learner's journal is append-only and a taught label is never
taken back (``teach`` refuses to relabel a row). So answers are *buffered*: the
answers to the current batch are taught together when the batch is complete
(or on :meth:`LabelingSession.commit`, e.g. when the person quits), and
:meth:`LabelingSession.undo` takes back answers of the current batch only.
Once a batch is taught, its labels are final and durable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .base import UNLABELED
from .utils import check_batch_size

if TYPE_CHECKING:  # pragma: no cover
    from . import ActiveLearner, ActiveSearcher

__all__ = ["LabelingSession"]

_YES = ("y", "yes")
_NO = ("n", "no")
_SKIP = ("s", "skip")


class LabelingSession:
    """Query a batch, take a person's answers one by one, teach the batch.

    Each call of :meth:`next_batch` queries ``batch_size`` rows; the row
    awaiting an answer is :attr:`current_row` (``show(row)`` is called each
    time a row becomes current). :meth:`answer` records the answer and moves
    on; when every row of the batch is answered, the batch is taught (one
    ``teach()`` call, one journal record when the learner has a journal).
    :meth:`undo` takes back the last answer of the current batch.

    Parameters
    ----------
    learner : ActiveSearcher or ActiveLearner
        A fitted learner. Give it a ``journal`` to make every taught batch
        durable; fitting it again with the same journal resumes the session.
    show : callable, default=None
        Called as ``show(row)`` (``row`` an int index into X) whenever a row
        becomes the one awaiting an answer, e.g. to print its text or display
        its image. None shows nothing.
    batch_size : int, default=None
        Rows per batch; None uses the learner's ``batch_size``.

    Attributes
    ----------
    batch_ : ndarray of int64
        Rows of the current batch not yet taught (answered ones first).
    answers_ : list
        Buffered answers to the first ``len(answers_)`` rows of ``batch_``.
    n_taught_ : int
        Rows taught by this session (skips included).
    exhausted_ : bool
        True once a query returned no row: the candidate pool is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from skseals import ActiveSearcher, UNLABELED
    >>> from skseals.labeling import LabelingSession
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 4)).astype(np.float32)
    >>> y = np.full(300, UNLABELED)
    >>> y[:3] = 1
    >>> searcher = ActiveSearcher(batch_size=3, random_state=0).fit(X, y)
    >>> shown = []
    >>> session = LabelingSession(searcher, show=shown.append)
    >>> batch = session.next_batch()
    >>> session.answer("y") == int(batch[1])    # the next row is now current
    True
    >>> session.undo() == int(batch[0])         # take the answer back
    True
    >>> for reply in ("n", "s", "y"):
    ...     _ = session.answer(reply)
    >>> session.n_taught_, searcher.n_labeled_      # the batch was taught
    (3, 5)
    >>> shown[:3] == [int(batch[0]), int(batch[1]), int(batch[0])]
    True
    """

    def __init__(
        self,
        learner: ActiveLearner | ActiveSearcher,
        *,
        show: Callable[[int], object] | None = None,
        batch_size: int | None = None,
    ) -> None:
        check_is_fitted(learner, "X_")
        self.learner = learner
        self.show = show
        self.batch_size = batch_size
        self.batch_ = np.empty(0, dtype=np.int64)
        self.answers_ = []
        self.n_taught_ = 0
        self.exhausted_ = False

    # -- state -----------------------------------------------------------------
    @property
    def current_row(self) -> int | None:
        """The row awaiting an answer, or None between batches."""
        i = len(self.answers_)
        return int(self.batch_[i]) if i < self.batch_.shape[0] else None

    @property
    def position(self) -> tuple[int, int]:
        """``(answered, size)`` of the current batch."""
        return len(self.answers_), int(self.batch_.shape[0])

    def progress(self) -> dict:
        """Counts for a progress line.

        Returns
        -------
        progress : dict
            ``n_labeled`` (human labels, seeds included), ``n_positives``
            (rows labeled ``pos_label``; None for an ActiveLearner),
            ``n_skipped``, ``pool_size`` (current candidate pool),
            ``n_samples``, ``n_buffered`` (answers not yet taught) and
            ``n_taught`` (rows taught by this session).
        """
        lr = self.learner
        pos = getattr(lr, "pos_label", None)
        return {
            "n_labeled": int(lr.n_labeled_),
            "n_positives": None if pos is None else int(lr.n_positives_found_),
            "n_skipped": int(lr.skipped_.shape[0]),
            "pool_size": int(lr.pool_.size()),
            "n_samples": int(lr.X_.shape[0]),
            "n_buffered": len(self.answers_),
            "n_taught": self.n_taught_,
        }

    # -- the loop --------------------------------------------------------------
    def next_batch(self) -> np.ndarray:
        """Return the current batch, querying a new one if it is done.

        An unfinished batch (rows still awaiting an answer) is returned as it
        is, so calling this twice never drops rows.

        Returns
        -------
        batch : ndarray of int64
            The rows of the batch, best first; empty when the candidate pool
            is exhausted (then ``exhausted_`` is True).
        """
        if self.current_row is None:
            self.commit()
            size = self.batch_size
            if size is not None:
                size = check_batch_size(size)
            rows = np.asarray(self.learner.query(size), dtype=np.int64)
            self.batch_, self.answers_ = rows, []
            self.exhausted_ = rows.shape[0] == 0
        self._show_current()
        return self.batch_.copy()

    def answer(self, label) -> int | None:
        """Record the answer for :attr:`current_row`.

        Parameters
        ----------
        label : str or class label
            ``"y"``/``"yes"``/True (``pos_label``), ``"n"``/``"no"``/False
            (``neg_label``) or ``"s"``/``"skip"`` (``UNLABELED``: seen, could
            not label; never offered again) for an ActiveSearcher; any class
            value, ``"s"`` or ``UNLABELED`` for an ActiveLearner. A value
            equal to a class the learner knows (``classes_``, ``pos_label``,
            ``neg_label``) is always that class, even ``"s"`` or ``"no"``;
            then skip with ``UNLABELED``.

        Returns
        -------
        row : int or None
            The next row awaiting an answer; None when the batch is complete,
            in which case it has just been taught.

        Raises
        ------
        RuntimeError
            When no row awaits an answer (call :meth:`next_batch`).
        ValueError, TypeError
            When ``label`` is "y"/"n" for a learner without ``pos_label``, or
            a label ``teach()`` would refuse (not a class of an ActiveSearcher,
            a type ``y`` cannot store...). The answer is not recorded.
        """
        if self.current_row is None:
            raise RuntimeError("no row awaits an answer: call next_batch() first.")
        value = self._decode(label)
        n = len(self.answers_)
        answers = np.empty(n + 1, dtype=object)
        answers[:] = [*self.answers_, value]
        # refused now, as teach() would refuse it, not when the batch is taught
        try:
            self.learner._check_teach(self.batch_[: n + 1], answers)
        except (ValueError, TypeError) as exc:
            kind = ValueError if isinstance(exc, ValueError) else TypeError
            raise kind(
                f"answer {label!r} for row {self.current_row} refused: {exc}"
            ) from None
        self.answers_.append(value)
        if self.current_row is None:
            self.commit()
            return None
        self._show_current()
        return self.current_row

    def undo(self) -> int | None:
        """Take back the last answer of the current batch.

        Answers of batches already taught are final (the journal is
        append-only); only answers still buffered can be undone.

        Returns
        -------
        row : int or None
            The row whose answer was taken back (now current again), or None
            when there was no buffered answer to undo.
        """
        if not self.answers_:
            return None
        self.answers_.pop()
        self._show_current()
        return self.current_row

    def commit(self) -> int:
        """Teach the buffered answers now, even if the batch is not complete.

        The rows of the batch not yet answered stay in ``batch_`` and are
        the next to answer (they stay pending, reserved for this session,
        across ``save`` and ``load`` too). To stop, call :meth:`stop`, which
        also gives them back to the candidates; a person who quits midway
        loses nothing they answered.

        Returns
        -------
        n_taught : int
            Rows taught by this call.
        """
        n = len(self.answers_)
        if n == 0:
            return 0
        rows = self.batch_[:n]
        labels = np.empty(n, dtype=object)
        labels[:] = self.answers_
        try:
            self.learner.teach(rows, labels)
        except BaseException:
            # Interrupted after the labels were recorded (e.g. Ctrl-C in the
            # refit): they are taught; drop them here so none is taught twice.
            # (Not "no longer pending": release() frees rows untaught.)
            if self.learner._is_taught(rows).all():
                self._taught(n)
            raise
        self._taught(n)
        return n

    def stop(self) -> np.ndarray:
        """End the session: teach the buffered answers, then give the rows of
        the batch nobody answered back to the candidates (the learner's
        ``release``), so that a later session, or another annotator, may get
        them. :meth:`commit` instead keeps them reserved for this session.

        Returns
        -------
        released : ndarray of int64
            The unanswered rows given back.

        Examples
        --------
        >>> import numpy as np
        >>> from skseals import ActiveSearcher
        >>> from skseals.labeling import LabelingSession
        >>> X = np.random.RandomState(0).normal(size=(200, 4))
        >>> y = np.full(200, -1); y[:3] = 1
        >>> searcher = ActiveSearcher(batch_size=4, random_state=0).fit(X, y)
        >>> session = LabelingSession(searcher)
        >>> batch = session.next_batch()
        >>> _ = session.answer("n")
        >>> session.stop().size, searcher.n_labeled_, searcher.pending_indices_.size
        (3, 4, 0)
        """
        self.commit()
        rows = self.batch_[np.isin(self.batch_, self.learner.pending_indices_)]
        released = self.learner.release(rows)
        self.batch_, self.answers_ = np.empty(0, dtype=np.int64), []
        return released

    def _taught(self, n):
        """The first ``n`` rows of the batch were taught: drop them."""
        self.batch_ = self.batch_[n:]
        self.answers_ = []
        self.n_taught_ += n

    # -- helpers ---------------------------------------------------------------
    def _decode(self, label):
        lr = self.learner
        searcher = getattr(lr, "pos_label", None) is not None
        if isinstance(label, (bool, np.bool_)) and searcher:
            return lr.pos_label if label else lr.neg_label
        if isinstance(label, str):
            if self._is_known_class(label):  # a class, never a command word
                return label
            key = label.strip().lower()
            if key in _SKIP:
                return UNLABELED
            if key in _YES + _NO:
                if not searcher:
                    raise ValueError(
                        f"answer {label!r} means pos_label / neg_label, which an "
                        f"{type(lr).__name__} does not have: answer with a class "
                        "value (or 's' to skip)."
                    )
                return lr.pos_label if key in _YES else lr.neg_label
        return label

    def _is_known_class(self, label):
        lr = self.learner
        known = [getattr(lr, "pos_label", None), getattr(lr, "neg_label", None)]
        known += list(getattr(lr, "classes_", ()))
        return any(isinstance(c, str) and c == label for c in known)

    def _show_current(self):
        row = self.current_row
        if self.show is not None and row is not None:
            self.show(row)

    def widget(self, render: Callable[[int], object] | None = None):
        """An ipywidgets interface: Yes / No / Skip / Undo buttons and progress.

        Needs ``ipywidgets`` (``pip install "skseals[notebook]"``), imported only
        here.

        Parameters
        ----------
        render : callable, default=None
            Called as ``render(row)`` inside the widget's output area to
            display the current row; None uses ``show`` (or shows the row id).

        Returns
        -------
        box : ipywidgets.VBox
            Display it in a notebook cell; answering a batch's last row
            teaches it and shows the next batch's first row.
        """
        from .utils import import_optional

        widgets = import_optional("ipywidgets")
        from IPython.display import display  # ipywidgets depends on IPython

        def show_row_id(row):
            display(widgets.Label(f"row {row}"))

        render = render or self.show or show_row_id
        out = widgets.Output()
        status = widgets.HTML()

        def refresh():
            if self.current_row is None and not self.exhausted_:
                self._next_batch_quietly()
            p = self.progress()
            done, size = self.position
            found = "" if p["n_positives"] is None else f", {p['n_positives']} found"
            status.value = (
                f"labeled {p['n_labeled']}{found}; pool {p['pool_size']:,}; "
                f"batch {done}/{size}"
            )
            out.clear_output(wait=True)
            with out:
                if self.current_row is None:
                    display(widgets.Label("The candidate pool is exhausted."))
                else:
                    render(self.current_row)

        def on_click(answer):  # the stored answer itself, None for undo
            def handler(_button):
                if answer is None:
                    self.undo()
                elif self.current_row is not None:
                    self.answers_.append(answer)
                    if self.current_row is None:
                        self.commit()
                refresh()

            return handler

        lr = self.learner
        if getattr(lr, "pos_label", None) is not None:
            replies = [("Yes", lr.pos_label), ("No", lr.neg_label)]
        else:  # one button per class labeled so far
            replies = [(str(c), c) for c in lr.classes_]
        replies += [("Skip", UNLABELED), ("Undo", None)]
        buttons = []
        for name, answer in replies:
            button = widgets.Button(description=name)
            button.on_click(on_click(answer))
            buttons.append(button)
        refresh()
        return widgets.VBox([status, out, widgets.HBox(buttons)])

    def _next_batch_quietly(self):
        show, self.show = self.show, None
        try:
            return self.next_batch()
        finally:
            self.show = show
