"""The Neural Spectral Method surrogate, ``"nsm"`` (Du, Chalapathi, Krishnapriyan, ICML 2024).

An NSM maps the spectral coefficients of the input function to those of the solution with
an FNO-like network that acts on coefficients: each layer mixes channels mode by mode on
the lowest modes (learned weights per mode, like a spectral convolution) and adds a
pointwise linear map; the activation is applied at collocation points (coefficients to
values, nonlinearity, values to coefficients). The output coefficients pass through the
problem's ansatz (:meth:`~pdeml.spectral.form.SpectralForm.solution`), which
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from pdeml._checks import check_choice, check_int
from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike, FieldsLike, SpectralFormLike, SpectralProblem
from pdeml.spectral.form import SpectralForm
from pdeml.surrogates.base import Capabilities, Surrogate, register_surrogate
from pdeml.surrogates.nsm_network import (  # noqa: F401  (re-exported)
    ACTIVATIONS,
    ModeMixing,
    NSMNetwork,
    PointwiseCoefficients,
)
from pdeml.training import BatchSource, StepConfig, Trainer
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.config import default_device

LOSSES = ("spectral", "preconditioned", "galerkin", "collocation")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
WEIGHTS = "model.pt"
#: ``fit`` options that are settings of the engine (:class:`~pdeml.training.StepConfig`).
STEP_OPTIONS: tuple[str, ...] = ("steps", "lr", "seed", "device", "time_limit", "log_every")
STEP_OPTIONS += ("checkpoint_every", "progress", "track")


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
    capabilities = Capabilities(needs_data=False, checkpoints=True, devices=("cpu", "cuda"))

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
        check_choice("activation", activation, tuple(ACTIVATIONS))
        check_choice("loss", loss, LOSSES)
        check_choice("dtype", dtype, tuple(DTYPES))
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
        spectral = cast(SpectralProblem, problem)  # it has spectral_form: checked above
        form = spectral.spectral_form(_probe_inputs(problem), modes)
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

    # -- pieces --------------------------------------------------------------------------
    def _network(self) -> NSMNetwork:
        """The network, built by ``fit`` or ``load``."""
        if self.model is None:
            raise ValueError(f"surrogate {self.name!r} is not fitted; call fit(...) or load(...)")
        return self.model

    def form(self, inputs: Mapping[str, np.ndarray]) -> SpectralFormLike:
        """The problem's spectral form for ``inputs`` at this surrogate's modes."""
        problem: SpectralProblem = self.problem  # checked at construction
        return problem.spectral_form(inputs, self.hyperparameters["modes"])

    def _build(self, form: SpectralFormLike) -> NSMNetwork:
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

    def _loss(self, form: SpectralFormLike, u: torch.Tensor) -> torch.Tensor:
        loss = self.hyperparameters["loss"]
        if loss == "spectral":
            return form.spectral_loss(u)
        if loss == "preconditioned":
            return form.preconditioned_loss(u)
        if loss == "galerkin":
            return form.galerkin_loss(u)
        return form.collocation_loss(u)

    # -- training ------------------------------------------------------------------------
    def fit(  # type: ignore[override]  # its options by name: fit_option_names()
        self,
        train: DatasetLike | None = None,
        valid: FieldsLike | None = None,
        *,
        n_train: int = 256,
        batch_size: int = 16,
        steps: int = 2000,
        lr: float = 1e-3,
        seed: int = 0,
        device: str | None = None,
        out_dir: str | Path | None = None,
        resume: bool = False,
        time_limit: float | None = None,
        log_every: int = 100,
        checkpoint_every: int = 0,
        progress: bool = False,
        track: str | None = None,
    ) -> NSMSurrogate:
        """Train on ``n_train`` inputs drawn from the problem; no solution data.

        Parameters
        ----------
        train : None
            Ignored (physics-informed); accepted for the common ``fit`` signature.
        valid : pdeml.Dataset, optional
            If given, the relative L2 error against its outputs is logged as
            ``valid_metric`` every ``log_every`` steps in :attr:`history`.
        n_train : int
            Inputs drawn with ``problem.sample_inputs(n_train, seed)``.
        batch_size : int
        steps : int
            Adam steps (learning rate cosine-annealed over the steps, or over
            ``time_limit`` when that is given).
        lr : float
            Peak learning rate.
        seed : int
            Seeds the inputs, the initial weights and the batch order.
        device : str, optional
            ``"cuda"`` when available, else ``"cpu"``.
        time_limit : float, optional
            Stop after this many seconds of training (for equal-time comparisons).
        out_dir : path, optional
            Checkpoints and ``metrics.jsonl`` go here.
        resume : bool
            Continue from ``out_dir``'s checkpoint (same settings and seed).
        log_every : int
            Steps between two records of the metrics log (:mod:`pdeml.training.log`).
        checkpoint_every : int
            Steps between checkpoints (0: at the end only); needs ``out_dir``.
        progress : bool
            Show a progress bar.
        track : {"tensorboard", "mlflow"}, optional
            Also send the metrics log there (:mod:`pdeml.training.tracking`).
        """
        n_train = check_int("n_train", n_train)
        batch_size = check_int("batch_size", batch_size)
        check_int("steps", steps)
        values = locals()
        settings = {k: values[k] for k in STEP_OPTIONS}
        config = StepConfig(schedule="cosine", **settings)
        dtype = DTYPES[self.hyperparameters["dtype"]]
        where = config.torch_device()
        torch.manual_seed(seed)
        form = self.form(self.problem.sample_inputs(n_train, seed)).to(where, dtype)
        features = _cast(form.features(), dtype).to(where)
        validate = None
        if valid is not None:
            valid_form = self.form(valid.inputs).to(where, dtype)
            valid_outputs = {k: np.asarray(v) for k, v in valid.outputs.items()}

            def validate() -> float:
                return self._valid_error(valid_form, valid_outputs)

        model = self._build(form).to(where)
        scale = self.hyperparameters["output_scale"]
        model.output_scale.fill_(_free_scale(form) if scale == "auto" else float(scale))
        self.model = model

        def loss(batch: tuple[SpectralFormLike, torch.Tensor]) -> torch.Tensor:
            coefficients, inputs = batch
            return self._loss(coefficients, coefficients.solution(model(inputs))).mean()

        trainer = Trainer(config)
        source = SpectralBatches(form, features, batch_size, seed)
        self.history = trainer.run(
            model,
            loss,
            source,
            validate=validate,
            out_dir=out_dir,
            resume=resume,
            run_info={"surrogate": self.name, "hyperparameters": self.hyperparameters,
                      "n_train": n_train, "batch_size": batch_size},
        )  # fmt: skip
        self.training = {
            "n_train": n_train,
            "steps": trainer.steps,
            "batch_size": batch_size,
            "lr": config.lr,
            "seed": seed,
            "seconds": trainer.seconds,
        }
        self.device = str(where)
        self.fitted = True
        return self

    @torch.no_grad()
    def _valid_error(self, form: SpectralFormLike, outputs: Mapping[str, np.ndarray]) -> float:
        pred = self._predict(form, next(iter(outputs.values())).shape[-1])
        name = next(iter(outputs))
        diff = (pred[name] - outputs[name]).reshape(len(pred[name]), -1)
        ref = outputs[name].reshape(len(pred[name]), -1)
        return float(np.mean(np.linalg.norm(diff, axis=1) / np.linalg.norm(ref, axis=1)))

    def _predict(
        self, form: SpectralFormLike, resolution: int, batch_size: int = 64
    ) -> dict[str, np.ndarray]:
        dtype = DTYPES[self.hyperparameters["dtype"]]
        model = self._network()
        device = next(model.parameters()).device
        model.eval()
        parts: dict[str, list[np.ndarray]] = {}
        for i in range(0, form.n_samples, batch_size):
            batch = form.take(slice(i, i + batch_size)).to(device, dtype)
            u = batch.solution(model(_cast(batch.features(), dtype)))
            for key, value in batch.outputs(u, resolution).items():
                parts.setdefault(key, []).append(value)
        model.train()
        return {k: np.concatenate(v) for k, v in parts.items()}

    # -- inference -----------------------------------------------------------------------
    @torch.no_grad()
    def coefficients(self, inputs: Mapping[str, np.ndarray]) -> torch.Tensor:
        """Solution coefficients ``U`` (the series) for a batch of inputs."""
        self._require_fitted()
        dtype = DTYPES[self.hyperparameters["dtype"]]
        model = self._network()
        device = next(model.parameters()).device
        form = self.form(self.problem.check_inputs(inputs)).to(device, dtype)
        return form.solution(model(_cast(form.features(), dtype)))

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
        return count_parameters(self._network())

    # -- persistence ---------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        state = {k: v.detach().cpu() for k, v in self._network().state_dict().items()}
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
        self.device = default_device()
        self.model = model.to(self.device)
        self.training = config.get("training", {})


@torch.no_grad()
def _free_scale(form: SpectralFormLike) -> float:
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


class SpectralBatches(BatchSource):
    """Batches of the NSM's drawn inputs: their spectral form and features, in the order of
    a permutation redrawn (from a generator seeded by ``seed``) when the pass ends."""

    def __init__(
        self, form: SpectralFormLike, features: torch.Tensor, batch_size: int, seed: int
    ) -> None:
        self.form, self.features, self.batch_size = form, features, batch_size
        self.n = features.shape[0]
        self.steps_per_epoch = max(1, self.n // batch_size)
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.cursor = torch.randperm(self.n, generator=self.generator), 0
        self.last: tuple[SpectralFormLike, torch.Tensor] | None = None

    def batch(self, step: int) -> tuple[SpectralFormLike, torch.Tensor]:
        if self.cursor + self.batch_size > self.n:
            self.order, self.cursor = torch.randperm(self.n, generator=self.generator), 0
        index = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        index = index.to(self.features.device)
        self.last = (self.form.take(index), self.features[index])
        return self.last

    def current(self) -> tuple[SpectralFormLike, torch.Tensor]:
        return self.last if self.last is not None else self.batch(0)

    def state_dict(self) -> dict[str, Any]:
        state = self.generator.get_state()
        return {"order": self.order, "cursor": self.cursor, "generator": state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order, self.cursor = state["order"].cpu(), int(state["cursor"])
        self.generator.set_state(state["generator"].cpu())
