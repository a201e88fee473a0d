"""What the surrogates, the Trainer and validation use of a dataset, a spectral form and a
PDE residual, as typing Protocols.

They are for the type checker and the reader: they name the members code relies on, so
that a signature says more than ``Any`` without asking for one concrete class. Nothing
checks them at run time (no ``isinstance``): an object with these members works, as it
always has. :class:`pdeml.Dataset`, :class:`pdeml.spectral.form.SpectralForm` and
:class:`pdeml.problems.residual.PDEResidual` have them all.

This module imports neither torch nor any other part of pdeml at run time (``import
pdeml`` stays light, and no import circle can start here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from pdeml.problems.base import Problem
    from pdeml.spectral._common import Basis

    #: A candidate solution: points ``[m, d]`` to values ``[m, 1]``.
    UFn = Callable[[torch.Tensor], torch.Tensor]

__all__ = [
    "DatasetLike",
    "FieldsLike",
    "ResidualLike",
    "SpectralFormLike",
    "SpectralProblem",
]


class FieldsLike(Protocol):
    """Input and output fields of some samples (``name -> [n, ...]``, sample axis first).

    What a physics-informed surrogate reads of its optional ``valid`` set: any object with
    ``inputs`` and ``outputs`` mappings (a :class:`pdeml.Dataset`, or a plain holder of two
    dicts) serves.
    """

    @property
    def inputs(self) -> Mapping[str, np.ndarray]: ...

    @property
    def outputs(self) -> Mapping[str, np.ndarray]: ...


class DatasetLike(FieldsLike, Protocol):
    """Samples of one problem: what ``Surrogate.fit`` takes as ``train`` and ``valid``.

    :class:`pdeml.Dataset` is the one pdeml makes (from :func:`pdeml.generate`,
    :func:`pdeml.open_dataset` or an import). Surrogates also read, where present, a
    ``path`` (named in messages) and a ``check_finite()`` method (a blockwise scan instead
    of loading every field).
    """

    @property
    def problem(self) -> Problem: ...

    def __len__(self) -> int: ...


class SpectralFormLike(Protocol):
    """A batch of PDE instances in spectral form, as the NSM surrogate uses it.

    :class:`pdeml.spectral.form.SpectralForm` documents each member; a problem's form
    subclasses it (``pdeml/problems/<pde>/spectral.py``).
    """

    @property
    def network_bases(self) -> Sequence[Basis]: ...

    @property
    def n_samples(self) -> int: ...

    @property
    def free_shape(self) -> tuple[int, ...]: ...

    def features(self) -> torch.Tensor: ...

    def solution(self, free: torch.Tensor) -> torch.Tensor: ...

    def spectral_loss(self, u: torch.Tensor) -> torch.Tensor: ...

    def preconditioned_loss(self, u: torch.Tensor) -> torch.Tensor: ...

    def galerkin_inverse(self, r: torch.Tensor) -> torch.Tensor: ...

    def galerkin_loss(self, u: torch.Tensor) -> torch.Tensor: ...

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor: ...

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]: ...

    def take(self, index: Any) -> SpectralFormLike: ...

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> SpectralFormLike: ...


class SpectralProblem(Protocol):
    """A problem with a spectral form (Burgers, Darcy, Navier–Stokes, Poisson)."""

    def spectral_form(self, inputs: Mapping[str, Any], modes: Any = None) -> SpectralFormLike: ...


class ResidualLike(Protocol):
    """One PDE instance as physics-informed training (PINN, PIG) sees it.

    :class:`pdeml.problems.residual.PDEResidual` (from ``problem.physics(inputs)``)
    documents each member.
    """

    @property
    def problem(self) -> str: ...

    @property
    def coordinates(self) -> tuple[str, ...]: ...

    @property
    def lower(self) -> tuple[float, ...]: ...

    @property
    def upper(self) -> tuple[float, ...]: ...

    @property
    def periodic(self) -> tuple[bool, ...]: ...

    @property
    def time_dependent(self) -> bool: ...

    @property
    def parameters(self) -> Mapping[str, float]: ...

    @property
    def second_derivatives(self) -> tuple[tuple[int, int], ...] | None: ...

    @property
    def dim(self) -> int: ...

    def residual(
        self, u_fn: UFn, points: torch.Tensor, parameters: Mapping[str, Any] | None = None
    ) -> torch.Tensor: ...

    def output(self, u_fn: UFn, points: torch.Tensor) -> torch.Tensor: ...

    def boundary_residual(self, u_fn: UFn, points: torch.Tensor) -> torch.Tensor: ...

    def initial_residual(self, u_fn: UFn, points: torch.Tensor) -> torch.Tensor: ...

    def sample_collocation(
        self, m: int, seed: int, method: str = "uniform", *, dtype: torch.dtype = ...
    ) -> torch.Tensor: ...

    def sample_boundary(self, m: int, seed: int, *, dtype: torch.dtype = ...) -> torch.Tensor: ...

    def sample_initial(self, m: int, seed: int, *, dtype: torch.dtype = ...) -> torch.Tensor: ...


if TYPE_CHECKING:
    # Checked by mypy only: pdeml's own classes have every member the Protocols name (for
    # Dataset a formality: its __getattr__ forwards any other name to its xarray view).
    from pdeml.data.dataset import Dataset
    from pdeml.problems.burgers import Burgers1D
    from pdeml.problems.residual import PDEResidual
    from pdeml.spectral.form import SpectralForm

    def _conforms(
        data: Dataset, form: SpectralForm, problem: Burgers1D, physics: PDEResidual
    ) -> tuple[DatasetLike, SpectralFormLike, SpectralProblem, ResidualLike]:
        return data, form, problem, physics
