"""The shared part of strategies built on a base strategy (information
density, query anywhere)."""

from __future__ import annotations

from ..base import BaseQueryStrategy

__all__ = []


class _WrapsStrategy(BaseQueryStrategy):
    """A strategy whose ``_base()`` resolves its ``base_strategy`` parameter."""

    def _base(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def check_params(self) -> None:
        """Validate the parameters and the base strategy's.

        Raises
        ------
        ValueError or TypeError
            If a parameter is invalid, ``base_strategy`` included.
        """
        super().check_params()
        self._base().check_params()
