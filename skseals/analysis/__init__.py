"""Analysis tools: will SEALS reach a concept before anything is labeled?

:func:`concept_structure` is the SEALS paper's concept structure report
(Coleman et al., Sec. 6, Figures 3 and 10): how the known positives of a
concept hang together in the k-nearest-neighbour graph that SEALS expands.
"""

from ._result import ConceptStructure
from ._structure import concept_structure

__all__ = ["ConceptStructure", "concept_structure"]
