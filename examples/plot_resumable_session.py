"""
===========================================================
A resumable labeling session: journal, save/load, a person
===========================================================

Human labels are the expensive part of active learning: none may be lost to
a crash, a closed laptop or a restart. skseals gives two tools:

- ``journal=PATH``: every ``teach()`` appends its rows and labels to an
  append-only, checksummed file and fsyncs it *before* returning. Fitting again
  with the same journal replays it, so a session resumes with every label
  whose ``teach()`` had returned.
- ``learner.save(directory)`` / :func:`skseals.load`: the whole session
  (labels, pool, pending rows, random state, history) in files that never run
  code when loaded (JSON, ``.npz``, the index's own format), checked against a
  manifest of SHA-256 digests. A loaded session queries exactly what the
  original would have queried next.

And :class:`skseals.labeling.LabelingSession` puts a person in the loop, one
answer at a time, with undo within the current batch; ``skseals label`` is the
same loop at a terminal.
"""

# %%
# A session with a journal
# ------------------------
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import skseals
from skseals import UNLABELED, ActiveSearcher
from skseals.datasets import make_rare_concepts
from skseals.labeling import LabelingSession

data = make_rare_concepts(20_000, 32, n_concepts=1, prevalence=0.005, random_state=0)
X, positives = data.X, data.concepts[0]
truth = np.isin(np.arange(X.shape[0]), positives).astype(int)
y = np.full(X.shape[0], UNLABELED)
y[positives[:5]] = 1  # five known positives

tmp = tempfile.TemporaryDirectory(prefix="skseals-session-")  # removed at the end
workdir = tmp.name
journal = os.path.join(workdir, "labels.journal")
params = dict(batch_size=10, pseudo_negatives=5, journal=journal, random_state=0)

searcher = ActiveSearcher(**params).fit(X, y)
found = []
for _ in range(6):
    rows = searcher.query()
    searcher.teach(rows, truth[rows])  # durable before teach() returns
    found.append((searcher.n_labeled_, searcher.n_positives_found_))
print(f"labeled {searcher.n_labeled_}, {searcher.n_positives_found_} positives")

# %%
# The journal is a text file: a header describing the data, then one
# checksummed JSON line per ``teach()``.
with open(journal) as f:
    lines = f.read().splitlines()
print(f"{len(lines)} lines; the second one:\n{lines[1][:110]}...")

# %%
# A crash, and the resume
# -----------------------
# The process dies: the learner object is gone. Fitting a new learner with the
# same ``X``, ``y`` and journal replays every taught batch.
del searcher
resumed = ActiveSearcher(**params).fit(X, y)
print(
    f"resumed: {resumed.n_labeled_} labels, {resumed.n_positives_found_} positives "
    "(nothing lost)"
)

# %%
# Save and load
# -------------
# ``save`` writes a directory atomically; ``skseals.load`` checks every file
# against the manifest, refits the estimator from the saved labels and
# restores the pool and the random state, so the next query is the same.
session_dir = os.path.join(workdir, "session")
resumed.save(session_dir)
print(sorted(os.listdir(session_dir)))
loaded = skseals.load(session_dir, X)
same = np.array_equal(loaded.query(), resumed.query())
print(f"loaded session queries the same rows as the original: {same}")

# %%
# A person in the loop
# --------------------
# :class:`~skseals.labeling.LabelingSession` asks for one answer at a time and
# calls ``show(row)`` whenever a new row needs an answer (print a text, display
# an image, ...). Answers are buffered and taught a batch at a time, so
# ``undo()`` can take back any answer of the current batch; a taught batch is
# final (the journal is append-only). In a notebook, ``session.widget()``
# gives Yes / No / Skip / Undo buttons (needs ipywidgets).
#
# Here a scripted "person" answers from the true labels, changes their mind
# once, and skips one row they cannot judge.
texts = {row: f"row {row}: {'looks like it' if truth[row] else 'not it'}"
         for row in range(X.shape[0])}  # fmt: skip
seen = []
session = LabelingSession(loaded, show=lambda row: seen.append(texts[row]))
for batch in range(4):
    rows = session.next_batch()
    for i, row in enumerate(rows):
        if batch == 0 and i == 1:
            session.answer("y")  # a slip...
            session.undo()  # ...taken back: row is current again
        if batch == 1 and i == 0:
            session.answer("s")  # can't tell: never offered again
        else:
            session.answer("y" if truth[row] else "n")
    found.append((loaded.n_labeled_, loaded.n_positives_found_))
print(f"{len(seen)} rows shown; first: {seen[0]!r}")
print(session.progress())

# %%
# The same loop at a terminal, on a data file in the shared ``.npz`` format
# (embeddings under ``emb``, texts under ``text_indptr``/``text_utf8``)::
#
#     skseals label data.npz --journal shells.journal --positives bash,zsh,fish
#
# It takes y / n / s(kip) / u(ndo) / q(uit), shows the progress after each
# batch and resumes where it stopped when run again.

labels, n_found = np.array(found).T
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(labels[:6], n_found[:6], "o-", label="first process (journal)")
ax.plot(labels[5:], n_found[5:], "s-", label="after crash, resume, save, load")
ax.set_xlabel("labels")
ax.set_ylabel("positives found")
ax.legend()
fig.tight_layout()

tmp.cleanup()
plt.show()
