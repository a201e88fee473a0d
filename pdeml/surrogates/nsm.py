"""The Neural Spectral Method surrogate, ``"nsm"`` (Du, Chalapathi, Krishnapriyan, ICML 2024).

An NSM maps the spectral coefficients of the input function to those of the solution with
an FNO-like network that acts on coefficients: each layer mixes channels mode by mode on
the lowest modes (learned weights per mode, like a spectral convolution) and adds a
pointwise linear map; the activation is applied at collocation points (coefficients to
values, nonlinearity, values to coefficients). The output coefficients pass through the
problem's ansatz (:meth:`~pdeml.problems.spectral_forms.SpectralForm.solution`), which
builds the boundary and initial conditions in.

Training uses no solution data: inputs are drawn from the problem
(``problem.sample_inputs``) and the loss is the spectral loss, the squared norm of the
residual's coefficients (Parseval). The solution is a series, so :meth:`NSMSurrogate.solve`
evaluates it on any grid.

``loss="collocation"`` trains the same architecture with a PINN-type loss instead (mean
square finite-difference residual on a uniform grid), the baseline of the paper.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pdeml._checks import check_int
from pdeml.problems.base import Problem
from pdeml.problems.spectral_forms import SpectralForm
from pdeml.spectral import Fourier
from pdeml.surrogates.base import Surrogate, register_surrogate
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.config import default_device

ACTIVATIONS = {
    "gelu": nn.functional.gelu,
    "relu": nn.functional.relu,
    "tanh": torch.tanh,
    "silu": nn.functional.silu,
}
LOSSES = ("spectral", "preconditioned", "galerkin", "collocation")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
WEIGHTS = "model.pt"


class ModeMixing(nn.Module):
    """Per-mode channel mixing on the lowest ``kept`` modes: ``out_k = W_k h_k``."""

    def __init__(self, width: int, kept: Sequence[int], complex_: bool) -> None:
        super().__init__()
        self.kept = tuple(kept)
        shape = (math.prod(self.kept), width, width)
        scale = 1.0 / width
        if complex_:
            weight = scale * torch.complex(torch.randn(shape), torch.randn(shape)) / math.sqrt(2)
        else:
            weight = scale * torch.randn(shape)
        self.weight = nn.Parameter(weight)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c = h.shape[:2]
        index = (slice(None), slice(None), *[slice(0, k) for k in self.kept])
        block = h[index]  # [b, c, *kept]
        d = len(self.kept)
        lhs = block.permute(*range(2, 2 + d), 0, 1).reshape(-1, b, c)
        out = torch.bmm(lhs, self.weight.to(h.dtype)).reshape(*self.kept, b, c)
        out = out.permute(d, d + 1, *range(d))
        full = torch.zeros_like(h)
        full[index] = out
        return full


class PointwiseCoefficients(nn.Module):
    """A pointwise affine map ``W h + b`` written in coefficient space.

    ``W`` acts on every mode alike; the bias is a constant function, so it enters the
    first mode only (``T_0 = 1`` and the Fourier mean).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(c_in)
        self.weight = nn.Parameter(torch.empty(c_out, c_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(h.dtype)
        out = torch.einsum("oi,bi...->bo...", w, h)
        corner = (slice(None), slice(None), *([0] * (h.ndim - 2)))
        out[corner] = out[corner] + self.bias.to(h.dtype)
        return out


class NSMNetwork(nn.Module):
    """The NSM network: lift, spectral layers with activations at collocation points, project.

    Parameters
    ----------
    bases : sequence of Fourier or Chebyshev
        Bases of the network's coefficients (one per direction, at most one Fourier).
    c_in : int
        Input channels (the spectral form's features).
    width, layers : int
        Channels and number of layers.
    kept : sequence of int
        Modes mixed by the per-mode weights in each direction.
    activation : str
        ``gelu``, ``tanh`` or ``silu``.
    """

    def __init__(
        self,
        bases: Sequence[Any],
        c_in: int,
        width: int,
        layers: int,
        kept: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__()
        self.bases = tuple(bases)
        self.complex = any(isinstance(b, Fourier) for b in self.bases)
        # Collocation grids of the activation: twice the modes (exact transforms, and
        # room for the nonlinearity's first harmonics before truncation).
        self.points = tuple(2 * b.modes for b in self.bases)
        self.act = ACTIVATIONS[activation]
        self.lift = PointwiseCoefficients(c_in, width)
        self.mixing = nn.ModuleList(ModeMixing(width, kept, self.complex) for _ in range(layers))
        self.pointwise = nn.ModuleList(PointwiseCoefficients(width, width) for _ in range(layers))
        self.hidden = PointwiseCoefficients(width, 2 * width)
        self.head = PointwiseCoefficients(2 * width, 1)
        # The size of the solution's free coefficients (set by ``fit``): the network
        # predicts them in units of this scale, so its weights stay O(1).
        self.register_buffer("output_scale", torch.ones(()))

    def _rank(self, i: int) -> int:
        basis = self.bases[i]
        if not isinstance(basis, Fourier):
            return 0
        return 2 if basis.half else 1

    def to_values(self, h: torch.Tensor) -> torch.Tensor:
        # Chebyshev directions first, then two-sided Fourier, the one-sided Fourier
        # direction last: it takes the real part, which must come after all the others.
        order = sorted(range(len(self.bases)), key=self._rank)
        for i in order:
            h = self.bases[i].to_values(h, self.points[i], axis=2 + i)
        return h

    def to_coefficients(self, v: torch.Tensor) -> torch.Tensor:
        order = sorted(range(len(self.bases)), key=self._rank, reverse=True)
        for i in order:
            v = self.bases[i].to_coefficients(v, axis=2 + i)
        return v

    def activate(self, h: torch.Tensor) -> torch.Tensor:
        """The nonlinearity applied at collocation points, back to coefficients."""
        return self.to_coefficients(self.act(self.to_values(h)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.lift(features)
        for i, (mixing, pointwise) in enumerate(zip(self.mixing, self.pointwise)):
            h = mixing(h) + pointwise(h)
            if i < len(self.mixing) - 1:
                h = self.activate(h)
        h = self.activate(self.hidden(h))
        return self.head(h)[:, 0] * self.output_scale.to(h.real.dtype)


@register_surrogate
class NSMSurrogate(Surrogate):
    """Neural Spectral Method, trained with the spectral loss on sampled inputs.

    Parameters
    ----------
    problem : Problem
        A problem with a spectral form (``problem.spectral_form``): Burgers1D, Darcy2D,
        NavierStokes2D, Poisson2D.
    modes : int or sequence of int, optional
        Basis sizes per direction of the network's coefficients (the problem's defaults:
        Burgers 32 Fourier × 32 Chebyshev, Darcy 24 × 24, Navier–Stokes 16 × 16 × 12,
        Poisson 16 × 16).
    kept : int
        Modes per direction mixed by the learned per-mode weights (12; capped by ``modes``).
    width : int
        Channels (32).
    layers : int
        Spectral layers (4).
    activation : {"gelu", "relu", "tanh", "silu"}
    loss : {"spectral", "preconditioned", "galerkin", "collocation"}
        The spectral loss (the method: squared norm of the residual's coefficients); the
        same residual mapped back through the least-squares inverse of the linear part
        before the norm is taken (``SpectralForm.preconditioned_loss``: same minimiser on
        linear problems, better conditioned); or a finite-difference collocation loss on a
        grid (the PINN-loss baseline with the same architecture).
        ``"galerkin"`` (Darcy, Poisson): the residual's L² inner products with the trial
        functions, solved with the linear part (``SpectralForm.galerkin_loss``); its zero is
        the Galerkin (weak-form) solution, which converges much faster than the
        least-squares one where the solution has corner singularities (Darcy).
    dtype : {"float32", "float64"}
    output_scale : float or "auto"
        The network predicts the free coefficients in units of this scale (its weights then
        stay of order one, which Adam's step sizes assume). ``"auto"``: the root-mean-square
        norm of the linearised solution ``A⁺ R(solution(0))`` over the training inputs,
        from the PDE and the inputs alone. The NSM paper multiplies by a fixed 1e-3.
    """

    name = "nsm"
    needs_data = False

    def __init__(
        self,
        problem: Problem,
        modes: int | Sequence[int] | None = None,
        kept: int = 12,
        width: int = 32,
        layers: int = 4,
        activation: str = "gelu",
        loss: str = "spectral",
        dtype: str = "float32",
        output_scale: float | str = 1.0,
    ) -> None:
        super().__init__(problem)
        if not callable(getattr(problem, "spectral_form", None)):
            raise ValueError(
                f"nsm: problem {problem.name!r} has no spectral form; the nsm surrogate serves "
                "problems with a spectral_form method (burgers, darcy, navier_stokes, poisson)"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
        if output_scale != "auto" and not (
            isinstance(output_scale, (int, float))
            and not isinstance(output_scale, bool)
            and math.isfinite(output_scale)
            and output_scale > 0
        ):
            raise ValueError(
                f"output_scale must be 'auto' or a finite number > 0, got {output_scale!r}"
            )
        kept = check_int("kept", kept)
        width = check_int("width", width)
        layers = check_int("layers", layers)
        if modes is not None and not isinstance(modes, (int, np.integer)):
            modes = [int(m) for m in modes]
        # Build a form on a constant input now, so a bad ``modes`` fails at construction
        # (a constant, not a draw: drawing Navier–Stokes inputs integrates the PDE).
        form = problem.spectral_form(_probe_inputs(problem), modes)
        if loss == "galerkin" and type(form).galerkin_inverse is SpectralForm.galerkin_inverse:
            raise ValueError(
                f"loss='galerkin' needs a Galerkin projection, which the {problem.name!r} "
                "spectral form does not have (darcy and poisson have one); use 'spectral' "
                "or 'preconditioned'"
            )
        self._set_hyperparameters(
            {
                "modes": [b.modes for b in form.network_bases],
                "kept": kept,
                "width": width,
                "layers": layers,
                "activation": activation,
                "loss": loss,
                "dtype": dtype,
                "output_scale": output_scale if output_scale == "auto" else float(output_scale),
            }
        )
        self.model: NSMNetwork | None = None
        self.device = default_device()

    # -- pieces --------------------------------------------------------------------------
    def form(self, inputs: Mapping[str, np.ndarray]) -> Any:
        """The problem's spectral form for ``inputs`` at this surrogate's modes."""
        return self.problem.spectral_form(inputs, self.hyperparameters["modes"])

    def _build(self, form: Any) -> NSMNetwork:
        """The network in the training dtype: complex weights go to the matching complex type
        (``Module.to(float64)`` would drop their imaginary parts)."""
        h = self.hyperparameters
        # Two-sided Fourier directions mix all their modes (both signs of k).
        kept = [
            min(h["kept"], b.modes) if getattr(b, "half", True) else b.size
            for b in form.network_bases
        ]
        return NSMNetwork(
            form.network_bases,
            form.features().shape[1],
            h["width"],
            h["layers"],
            kept,
            h["activation"],
        )._apply(lambda t: _cast(t, DTYPES[h["dtype"]]))

    def _loss(self, form: Any, u: torch.Tensor) -> torch.Tensor:
        loss = self.hyperparameters["loss"]
        if loss == "spectral":
            return form.spectral_loss(u)
        if loss == "preconditioned":
            return form.preconditioned_loss(u)
        if loss == "galerkin":
            return form.galerkin_loss(u)
        return form.collocation_loss(u)

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        train: Any = None,
        valid: Any = None,
        *,
        n_train: int = 256,
        steps: int = 2000,
        batch_size: int = 16,
        lr: float = 1e-3,
        time_limit: float | None = None,
        seed: int = 0,
        device: str | None = None,
        log_every: int = 100,
        progress: bool = False,
    ) -> NSMSurrogate:
        """Train on ``n_train`` inputs drawn from the problem; no solution data.

        Parameters
        ----------
        train : None
            Ignored (physics-informed); accepted for the common ``fit`` signature.
        valid : pdeml.Dataset, optional
            If given, the relative L2 error against its outputs is logged every
            ``log_every`` steps in :attr:`history`.
        n_train : int
            Inputs drawn with ``problem.sample_inputs(n_train, seed)``.
        steps : int
            Adam steps (learning rate cosine-annealed over the steps, or over
            ``time_limit`` when that is given).
        batch_size : int
        lr : float
            Peak learning rate.
        time_limit : float, optional
            Stop after this many seconds of training (for equal-time comparisons).
        seed : int
            Seeds the inputs, the initial weights and the batch order.
        device : str, optional
            ``"cuda"`` when available, else ``"cpu"``.
        """
        n_train = check_int("n_train", n_train)
        steps = check_int("steps", steps)
        batch_size = check_int("batch_size", batch_size)
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
            raise ValueError(f"time_limit must be a number of seconds > 0, got {time_limit!r}")
        dtype = DTYPES[self.hyperparameters["dtype"]]
        device = device or default_device()
        torch.manual_seed(seed)
        form = self.form(self.problem.sample_inputs(n_train, seed)).to(device, dtype)
        features = _cast(form.features(), dtype).to(device)
        valid_form = valid_outputs = None
        if valid is not None:
            valid_form = self.form(valid.inputs).to(device, dtype)
            valid_outputs = {k: np.asarray(v) for k, v in valid.outputs.items()}
        model = self._build(form).to(device)
        scale = self.hyperparameters["output_scale"]
        model.output_scale.fill_(_free_scale(form) if scale == "auto" else float(scale))
        self.model = model
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        generator = torch.Generator().manual_seed(seed)
        self.history = []
        start = time.perf_counter()
        order, cursor = torch.randperm(n_train, generator=generator), 0
        for step in range(steps):
            if cursor + batch_size > n_train:
                order, cursor = torch.randperm(n_train, generator=generator), 0
            index = order[cursor : cursor + batch_size]
            cursor += batch_size
            batch = form.take(index.to(device))
            u = batch.solution(model(features[index.to(device)]))
            loss = self._loss(batch, u).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"nsm: the loss became {loss.item()} at step {step}; lower lr"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            elapsed = time.perf_counter() - start
            if time_limit is None:
                schedule.step()
            else:
                # Anneal over the time budget, so a time-limited run also ends at lr ~ 0.
                fraction = min(elapsed / time_limit, 1.0)
                for group in optimizer.param_groups:
                    group["lr"] = 0.5 * lr * (1.0 + math.cos(math.pi * fraction))
            last = step == steps - 1 or (time_limit is not None and elapsed >= time_limit)
            if step % log_every == 0 or last:
                record = {"step": step, "loss": loss.item(), "seconds": elapsed}
                if valid_form is not None:
                    record["valid_l2"] = self._valid_error(valid_form, valid_outputs)
                self.history.append(record)
                if progress:
                    print(record, flush=True)
            if last:
                break
        self.training = {
            "n_train": n_train,
            "steps": step + 1,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "seconds": time.perf_counter() - start,
        }
        self.device = str(device)
        self.fitted = True
        return self

    @torch.no_grad()
    def _valid_error(self, form: Any, outputs: Mapping[str, np.ndarray]) -> float:
        pred = self._predict(form, next(iter(outputs.values())).shape[-1])
        name = next(iter(outputs))
        diff = (pred[name] - outputs[name]).reshape(len(pred[name]), -1)
        ref = outputs[name].reshape(len(pred[name]), -1)
        return float(np.mean(np.linalg.norm(diff, axis=1) / np.linalg.norm(ref, axis=1)))

    def _predict(self, form: Any, resolution: int, batch_size: int = 64) -> dict[str, np.ndarray]:
        dtype = DTYPES[self.hyperparameters["dtype"]]
        device = next(self.model.parameters()).device
        self.model.eval()
        parts: dict[str, list[np.ndarray]] = {}
        for i in range(0, form.n_samples, batch_size):
            batch = form.take(slice(i, i + batch_size)).to(device, dtype)
            u = batch.solution(self.model(_cast(batch.features(), dtype)))
            for key, value in batch.outputs(u, resolution).items():
                parts.setdefault(key, []).append(value)
        self.model.train()
        return {k: np.concatenate(v) for k, v in parts.items()}

    # -- inference -----------------------------------------------------------------------
    @torch.no_grad()
    def coefficients(self, inputs: Mapping[str, np.ndarray]) -> torch.Tensor:
        """Solution coefficients ``U`` (the series) for a batch of inputs."""
        self._require_fitted()
        dtype = DTYPES[self.hyperparameters["dtype"]]
        device = next(self.model.parameters()).device
        form = self.form(self.problem.check_inputs(inputs)).to(device, dtype)
        return form.solution(self.model(_cast(form.features(), dtype)))

    def solve(
        self, inputs: Mapping[str, np.ndarray], resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Outputs on the problem's grid at ``resolution`` (default: that of the inputs)."""
        self._require_fitted()
        checked = self.problem.check_inputs(inputs)
        if resolution is None:
            resolution = self.problem.infer_resolution(checked)
        with torch.no_grad():
            out = self._predict(self.form(checked), int(resolution))
        return {k: out[k] for k in self.problem.output_names}

    def parameter_count(self) -> int:
        """Trainable real parameters (complex weights count twice)."""
        from pdeml.nn.fourier import count_parameters

        self._require_fitted()
        return count_parameters(self.model)

    # -- persistence ---------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        save_checkpoint(folder / WEIGHTS, state)
        return {"training": getattr(self, "training", {}), "parameters": self.parameter_count()}

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        form = self.form(_probe_inputs(self.problem))
        model = self._build(form)
        try:
            model.load_state_dict(load_checkpoint(folder / WEIGHTS))
        except RuntimeError as error:
            raise ValueError(
                f"{folder / WEIGHTS}: weights do not match the saved hyperparameters ({error})"
            ) from None
        self.model = model.to(default_device())
        self.training = config.get("training", {})


@torch.no_grad()
def _free_scale(form: Any) -> float:
    """Root-mean-square norm of ``A⁺ R(solution(0))``, the free coefficients of the
    linearised solution (minus sign aside), over the form's samples.

    It is the solution's size read off the inputs and the PDE alone (no solution data):
    exact for a linear problem, the first Newton-like step otherwise. Estimated on the
    first 64 samples: a scale needs no more, and the residual of a whole paper-size
    training set at once would cost memory for nothing.
    """
    form = form.take(slice(0, 64))
    zero = form.features().new_zeros((form.n_samples, *form.free_shape))
    # |A⁺ R(solution(0))|² per sample is the preconditioned loss at V = 0.
    return float(form.preconditioned_loss(form.solution(zero)).mean().sqrt())


def _probe_inputs(problem: Problem) -> dict[str, np.ndarray]:
    """One constant input (ones: valid for every problem, including positive coefficients)."""
    return {name: np.ones((1, *problem.field_shape(name))) for name in problem.input_names}


def _cast(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if t.is_complex():
        return t.to(torch.complex128 if dtype == torch.float64 else torch.complex64)
    return t.to(dtype)
