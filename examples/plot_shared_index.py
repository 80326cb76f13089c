"""
=========================================
One prebuilt index serving many concepts
=========================================

Building a nearest-neighbour index is the one cost of SEALS that grows with
the data: a faiss IVF index over a billion rows takes hours. It depends only
on the embeddings, not on the concept, so it should be built **once** and
shared by every concept searched on the same data.

A fitted index passed to :class:`~skseals.pool.KNNPool` is used as it is:
never rebuilt, never copied (``clone`` keeps fitted components by reference),
so ten learners cost one index. A :class:`~skseals.neighbors.KNNGraph` goes one
step further: the neighbours of every row are computed once, and growing a
pool becomes a table look-up with no search at all.
"""

# %%
# One index, built once
# ---------------------
import time

import matplotlib.pyplot as plt
import numpy as np

from skseals import UNLABELED, ActiveSearcher
from skseals.datasets import make_rare_concepts
from skseals.neighbors import FaissIndex, KNNGraph
from skseals.pool import KNNPool

data = make_rare_concepts(40_000, 32, n_concepts=6, prevalence=0.002, random_state=0)
X = data.X

t0 = time.perf_counter()
index = FaissIndex(factory="IVF200,Flat", nprobe=16, random_state=0).fit(X)
build_seconds = time.perf_counter() - t0
print(f"IVF index over {X.shape[0]:,} rows built in {build_seconds:.2f} s")

# %%
# One learner per concept, all on the same index
# ----------------------------------------------
# Each concept starts from five known positives; a simulated person answers
# 10 rounds of 10 labels.
truth = np.zeros((len(data.concepts), X.shape[0]), dtype=int)
for c, members in enumerate(data.concepts):
    truth[c, members] = 1


def seed(c):
    y = np.full(X.shape[0], UNLABELED)
    y[data.concepts[c][:5]] = 1
    return y


def run(learner, c, rounds=10):
    learner.fit(X, seed(c))
    for _ in range(rounds):
        rows = learner.query()
        learner.teach(rows, truth[c, rows])
    return learner


learners = {}
t0 = time.perf_counter()
for c, name in enumerate(data.concept_names):
    pool = KNNPool(n_neighbors=50, index=index)
    learner = ActiveSearcher(pool=pool, batch_size=10, pseudo_negatives=5)
    learners[name] = run(learner.set_params(random_state=c), c)
shared_seconds = time.perf_counter() - t0
assert all(lr.pool_.index_ is index for lr in learners.values())  # shared
print(f"{len(learners)} concepts on the shared index: {shared_seconds:.2f} s")
for c, (name, lr) in enumerate(learners.items()):
    print(
        f"  {name}: {lr.n_positives_found_:>2} of {truth[c].sum()} positives "
        f"found with {lr.n_labeled_} labels"
    )

# %%
# For comparison, an *unfitted* index (or an alias such as ``index="faiss"``)
# is cloned and built inside each learner's ``fit``: the same work, repeated
# per concept.
t0 = time.perf_counter()
for c in range(len(data.concepts)):
    unfitted = FaissIndex(factory="IVF200,Flat", nprobe=16, random_state=0)
    alias_pool = KNNPool(n_neighbors=50, index=unfitted)
    run(ActiveSearcher(pool=alias_pool, batch_size=10, pseudo_negatives=5), c)
alias_seconds = time.perf_counter() - t0
print(f"one index per learner: {alias_seconds:.2f} s")

# %%
# A precomputed kNN graph
# -----------------------
# :class:`~skseals.neighbors.KNNGraph` asks the index for the 50 nearest
# neighbours of every row in large batches, once. Afterwards a pool grows by
# looking rows up in the table instead of searching. The graph costs a search
# of every row up front (and 8 bytes per neighbour per row: an int32 id and a
# float32 distance), so it pays off when many concepts or long sessions share
# it, as in the benchmarks, where one graph served thousands of runs.
t0 = time.perf_counter()
graph = KNNGraph(n_neighbors=50, index=index).fit(X)
graph_seconds = time.perf_counter() - t0
print(
    f"KNNGraph of {graph.neighbors_.shape} built in {graph_seconds:.2f} s "
    f"({(graph.neighbors_.nbytes + graph.distances_.nbytes) / 2**20:.1f} MiB)"
)
t0 = time.perf_counter()
for c in range(len(data.concepts)):
    lr = run(ActiveSearcher(pool=KNNPool(50, index=graph), batch_size=10), c)
graph_run_seconds = time.perf_counter() - t0
print(f"6 concepts on the graph: {graph_run_seconds:.2f} s")

# %%
# Where the time went
# -------------------
fig, ax = plt.subplots(figsize=(6, 3.5))
bars = {
    "shared index\n(build + 6 concepts)": build_seconds + shared_seconds,
    "index per learner\n(6 builds)": alias_seconds,
    "KNNGraph\n(build + 6 concepts)": build_seconds + graph_seconds + graph_run_seconds,
}
ax.barh(list(bars), list(bars.values()), color=["C0", "C3", "C2"])
ax.set_xlabel("seconds (10 rounds of 10 labels per concept)")
ax.invert_yaxis()
fig.tight_layout()

# %%
# On 40,000 rows a build takes a fraction of a second, so the saving is small
# here; it grows with the data (an IVF build is minutes at 10 million rows),
# and the index's memory is paid once whatever the number of concepts. Save
# the index (``index.save(path)``) and load it in each labeling process, or
# save a session with ``include_index=False`` and pass the shared index back
# to :func:`skseals.load`.

plt.show()
