"""
===================================================
Will SEALS reach the concept? The structure report
===================================================

SEALS only ever looks at the nearest neighbours of the rows labeled so far, so
it reaches the positives of a concept by hopping from neighbour to neighbour.
When the positives form one connected component of the k-nearest-neighbour
graph, that works from any seed; when they are split into separate groups, the
groups without a seed stay out of sight (Coleman et al., SEALS, Sec. 6).

:func:`skseals.analysis.concept_structure` measures this before anything is
labeled: the share of the known positives in the largest connected component
of the kNN graph restricted to them, the number of components and the mean
shortest path between connected positives. Here a concept is generated in four
separate clusters; the report is read at k=10 and k=100, and SEALS is then run
from five seeds in one cluster with both k to see what it reaches.
"""

# %%
# A concept fragmented into four clusters
# ---------------------------------------
# 20,000 unit-norm rows, one rare concept of 200 rows (1 %) split into four
# clusters, each near a different crowd of background rows.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skseals import ActiveSearcher
from skseals.analysis import concept_structure
from skseals.datasets import make_rare_concepts
from skseals.neighbors import FaissIndex
from skseals.pool import KNNPool

data = make_rare_concepts(
    20_000, 32, n_concepts=1, prevalence=0.01, n_components=4, random_state=0
)
X, positives = data.X, data.concepts[0]
cluster = data.concept_component  # generated cluster of each positive
print(
    f"{X.shape[0]:,} rows, {positives.size} positives in clusters of sizes "
    f"{np.bincount(cluster).tolist()}"
)

# %%
# The report at two k
# -------------------
# One index serves both reports and, later, every learner. Only the
# positives' neighbours are searched.
index = FaissIndex().fit(X)
reports = {}
for k in (10, 100):
    reports[k] = concept_structure(X, positives, n_neighbors=k, index=index)
    print(f"\n--- k={k} ---")
    print(reports[k].summary())

# %%
# The positives in two dimensions (PCA), coloured by the component they belong
# to at each k: at k=10 the generated clusters are separate components (plus a
# few stragglers); at k=100 clusters are joined through chains of positives,
# each among the 100 nearest neighbours of the next.
xy = PCA(n_components=2, random_state=0).fit_transform(X[positives])
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, sharey=True)
for ax, (k, rep) in zip(axes, reports.items(), strict=True):
    ax.scatter(
        xy[:, 0], xy[:, 1], c=rep.component_labels, cmap="tab10", vmin=0, vmax=9, s=14
    )
    ax.set_title(
        f"k={k}: {rep.n_components} components, largest "
        f"{rep.largest_component_share:.0%}"
    )
    ax.set_xlabel("PC 1")
axes[0].set_ylabel("PC 2")
fig.suptitle("Known positives, coloured by connected component of the kNN graph")
fig.tight_layout()

# %%
# SEALS from five seeds in one cluster: reaching is not finding
# -------------------------------------------------------------
# Seeds: five positives of the largest cluster and 95 random negatives; 30
# rounds of 10 labels (most-likely-positive). A positive is *reached* once it
# is labeled or in the candidate pool. With k=100 the pool reaches positives of
# the other clusters, as the report predicts; with k=10 it barely leaves its
# own. Reaching them is necessary, not sufficient: a classifier trained on one
# cluster's positives may still rank the other clusters low, and SEALS also
# expands through labeled negatives, so the report is a guide, not a bound.
rng = np.random.RandomState(0)
seed_cluster = int(np.bincount(cluster).argmax())
y_true = np.zeros(X.shape[0], dtype=int)
y_true[positives] = 1
y = np.full(X.shape[0], -1)
y[rng.choice(positives[cluster == seed_cluster], 5, replace=False)] = 1
y[rng.choice(np.flatnonzero(y_true == 0), 95, replace=False)] = 0
reached, found = {}, {}
for k in (10, 100):
    searcher = ActiveSearcher(
        pool=KNNPool(n_neighbors=k, index=index), batch_size=10, random_state=0
    ).fit(X, y)
    for _ in range(30):
        rows = searcher.query()
        searcher.teach(rows, y_true[rows])
    labeled = searcher.labels_[positives] == 1
    in_pool = np.isin(positives, searcher.candidate_indices())
    found[k] = np.bincount(cluster[labeled], minlength=4)
    reached[k] = np.bincount(cluster[labeled | in_pool], minlength=4)
    print(
        f"k={k}: positives reached per generated cluster {reached[k].tolist()}, "
        f"found {found[k].tolist()} (seeds in cluster {seed_cluster})"
    )

fig, ax = plt.subplots(figsize=(6, 4))
width = 0.2
for i, k in enumerate((10, 100)):
    x = np.arange(4) + (i - 0.5) * 2 * width
    ax.bar(x - width / 2, reached[k], width, label=f"k={k}: reached")
    ax.bar(x + width / 2, found[k], width, label=f"k={k}: found", alpha=0.7)
ax.plot(np.arange(4), np.bincount(cluster), "k_", ms=30, label="positives")
ax.set_xticks(np.arange(4), [f"cluster {c}" for c in range(4)])
ax.set_ylabel("positives")
ax.set_title(f"After 300 labels from seeds in cluster {seed_cluster}")
ax.legend(fontsize=8)
fig.tight_layout()

plt.show()
