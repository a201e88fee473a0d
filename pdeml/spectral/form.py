"""The spectral form of a PDE, for the Neural Spectral Method (NSM): the shared machinery.

A :class:`SpectralForm` holds a batch of PDE instances (one per input sample) written in
a spectral basis (Du, Chalapathi, Krishnapriyan, *Neural Spectral Methods*, ICML 2024):

* the solution is a tensor of coefficients ``U`` in a product basis (Fourier in periodic
  directions, Chebyshev in bounded ones and in time);
* boundary and initial conditions are built into the ansatz :meth:`SpectralForm.solution`,
  which maps free coefficients ``V`` (what a network predicts) to ``U``;
* the residual is ``linear(U) + nonlinear(U) − source``: the linear part is an operator on
  coefficients (exact), the nonlinear part is evaluated at collocation points on a padded
  (dealiased) grid and transformed back;
* the spectral loss is the squared norm of the residual's coefficients, which by Parseval
  is the squared L² norm of the (truncated) residual in the Fourier directions.

Coefficients are torch tensors with the sample axis first: complex when a direction is
Fourier, real otherwise. The forms also give the solution on the problem's grid (any
resolution, by evaluating the series) and a finite-difference residual on a uniform grid,
which the PINN-loss baselines of ``validation/studies/nsm_comparison.py`` use.

Each problem's form lives in its folder (``pdeml/problems/<pde>/spectral.py``) and
subclasses :class:`SpectralForm`; the linear algebra they share is in
:mod:`pdeml.spectral.galerkin`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from pdeml.spectral._common import Basis
from pdeml.spectral.fourier import Fourier


def check_modes(value: Any, count: int, default: int, name: str) -> tuple[int, ...]:
    """Basis sizes: ``value`` (``default`` when None) as ``count`` integers ``>= 4``."""
    if value is None:
        value = default
    values = [value] * count if isinstance(value, (int, np.integer)) else list(value)
    if len(values) != count or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 4 for v in values
    ):
        raise ValueError(f"{name}: expected an integer >= 4 or {count} of them, got {value!r}")
    return tuple(int(v) for v in values)


class SpectralForm:
    """A batch of PDE instances in spectral form (see the module docstring).

    Subclasses set ``network_bases`` (the bases of the free coefficients ``V``) and
    ``solution_bases`` (those of ``U``), declare their input and tensor attributes (the
    class attributes below) and implement the methods that raise ``NotImplementedError``.
    """

    network_bases: tuple[Basis, ...]
    solution_bases: tuple[Basis, ...]
    #: The input field a form is built from, and its number of axes per sample.
    input_name: ClassVar[str] = ""
    input_dims: ClassVar[int] = 0
    #: Tensor attributes with the sample axis first (sliced by :meth:`take`).
    batched: ClassVar[tuple[str, ...]] = ()
    #: The other tensor attributes (moved by :meth:`to` with the batched ones).
    constants: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_inputs(cls, problem: Any, inputs: Mapping[str, Any], modes: Any = None) -> Any:
        """The form for a batch of ``inputs`` (one sample without its sample axis is accepted),
        checked by the problem, with basis sizes ``modes``."""
        checked = problem.check_inputs(batched_inputs(inputs, cls.input_name, cls.input_dims))
        return cls(problem, checked[cls.input_name], modes)

    @property
    def n_samples(self) -> int:
        raise NotImplementedError

    @property
    def free_shape(self) -> tuple[int, ...]:
        """Shape of one sample's free coefficients ``V`` (what the network predicts)."""
        return tuple(b.size for b in self.network_bases)

    @property
    def complex(self) -> bool:
        """Whether coefficients are complex (some direction is Fourier)."""
        return any(isinstance(b, Fourier) for b in self.network_bases)

    def features(self) -> torch.Tensor:
        """Network inputs: coefficients ``[n, c_in, *network modes]`` of the input fields."""
        raise NotImplementedError

    def solution(self, free: torch.Tensor) -> torch.Tensor:
        """Solution coefficients ``U`` from free coefficients ``V`` ``[n, *network modes]``."""
        raise NotImplementedError

    def linear(self, u: torch.Tensor) -> torch.Tensor:
        """The linear part of the residual, an operator on coefficients."""
        raise NotImplementedError

    def nonlinear(self, u: torch.Tensor) -> torch.Tensor:
        """The nonlinear (or variable-coefficient) part, via padded collocation points."""
        raise NotImplementedError

    def source(self, u: torch.Tensor) -> torch.Tensor:
        """Coefficients of the right-hand side, shaped like the residual."""
        return torch.zeros_like(u)

    def residual(self, u: torch.Tensor) -> torch.Tensor:
        """Coefficients of the PDE residual of ``U`` (zero for the exact solution)."""
        return self.linear(u) + self.nonlinear(u) - self.source(u)

    def residual_weights(self, like: torch.Tensor) -> torch.Tensor:
        """Parseval weights of the residual's coefficients (2 for Fourier modes ``k > 0``)."""
        return parseval_weights(self.solution_bases, like)

    def spectral_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample squared norm of the residual's coefficients, ``[n]``."""
        r = self.residual(u)
        sq = r.abs() ** 2 if r.is_complex() else r**2
        return (sq * self.residual_weights(r)).reshape(r.shape[0], -1).sum(dim=1)

    def linear_inverse(self, r: torch.Tensor) -> torch.Tensor:
        """Least-squares inverse of the linear part on the free coefficients.

        With ``A`` the matrix of ``V ↦ linear(solution(V)) − linear(solution(0))`` (full
        column rank), returns ``A⁺ r``, shaped like the free coefficients the ansatz uses.
        """
        raise NotImplementedError

    def free_weights(self, like: torch.Tensor) -> torch.Tensor:
        """Parseval weights of the free coefficients (2 for one-sided Fourier modes ``k > 0``)."""
        return parseval_weights(self.network_bases, like)

    def preconditioned_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample squared norm of ``A⁺ R(U)``, the residual mapped back through the
        least-squares inverse of the linear part, ``[n]``.

        For a linear problem ``R = A V + c`` this is ``|V − V*|²`` with ``V*`` the
        minimiser of :meth:`spectral_loss`: same minimiser, but the loss is as well
        conditioned as a regression on the coefficients, where the plain residual norm
        weighs mode ``k`` like the linear part's symbol squared (``ν²k⁴`` for diffusion).
        """
        return self._free_norm(self.linear_inverse(self.residual(u)))

    def galerkin_inverse(self, r: torch.Tensor) -> torch.Tensor:
        """The Galerkin projection of the residual, solved with the linear part.

        With ``P`` the L² inner products of a residual with the trial functions (the
        basis of the free coefficients) and ``A`` the linear part on the free
        coefficients, returns ``(P A)⁻¹ P r``. Its zero is the Galerkin (weak-form)
        solution, not the least-squares minimiser of :meth:`spectral_loss`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no Galerkin projection")

    def galerkin_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample squared norm of :meth:`galerkin_inverse` of the residual, ``[n]``.

        For a linear problem this is ``|V − V_G|²`` with ``V_G`` the Galerkin solution in
        the ansatz space, which converges like the best approximation in that space;
        the least-squares minimiser of the strong-form residual can converge much more
        slowly (Darcy's corner singularity, see :class:`DarcyForm`).
        """
        return self._free_norm(self.galerkin_inverse(self.residual(u)))

    def _free_norm(self, z: torch.Tensor) -> torch.Tensor:
        sq = z.abs() ** 2 if z.is_complex() else z**2
        return (sq * self.free_weights(z)).reshape(z.shape[0], -1).sum(dim=1)

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]:
        """The problem's output fields on its grid at ``resolution``, numpy float64."""
        raise NotImplementedError

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample PINN-type loss: mean square finite-difference residual on a grid."""
        raise NotImplementedError

    def take(self, index: Any) -> SpectralForm:
        """The sub-batch ``index`` (a slice or an index tensor) of the :attr:`batched` tensors."""
        out = self._copy()
        for name in self.batched:
            setattr(out, name, getattr(self, name)[index])
        return out

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> SpectralForm:
        """A copy with its tensors (:attr:`batched` and :attr:`constants`) on ``device`` in
        real precision ``dtype``."""
        out = self._copy()
        for name in self.batched + self.constants:
            value = getattr(self, name)
            if isinstance(value, tuple):
                setattr(out, name, tuple(to_device(v, device, dtype) for v in value))
            else:
                setattr(out, name, to_device(value, device, dtype))
        return out

    def _copy(self) -> SpectralForm:
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        return out


def parseval_weights(bases: Sequence[Basis], like: torch.Tensor) -> torch.Tensor:
    """Weights ``[*like.shape[1:]]`` that turn the sum of squared coefficients in ``bases``
    into the squared L² norm along their Fourier directions (``Fourier.weights``)."""
    w = torch.ones(like.shape[1:], dtype=like.real.dtype, device=like.device)
    for axis, basis in enumerate(bases):
        if isinstance(basis, Fourier):
            shape = [1] * w.ndim
            shape[axis] = -1
            bw = torch.as_tensor(basis.weights(), dtype=w.dtype, device=w.device)
            w = w * bw.reshape(shape)
    return w


def to_device(t: torch.Tensor, device: Any, dtype: torch.dtype | None) -> torch.Tensor:
    """``t`` on ``device`` in real precision ``dtype`` (a complex ``t`` in the matching complex
    precision)."""
    if dtype is not None:
        if t.is_complex():
            t = t.to(torch.complex128 if dtype == torch.float64 else torch.complex64)
        else:
            t = t.to(dtype)
    return t.to(device) if device is not None else t


def batched_inputs(inputs: Mapping[str, Any], name: str, dims: int) -> dict[str, np.ndarray]:
    """Accept one sample without the sample axis as well as a batch."""
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict of arrays, got {type(inputs).__name__}")
    out = {k: np.asarray(v) for k, v in inputs.items()}
    if name in out and out[name].ndim == dims:
        out[name] = out[name][None]
    return out
