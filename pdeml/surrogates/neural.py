"""Shared machinery of neural-operator surrogates on grids (FNO, MgNO, ...).

A :class:`FieldCodec` turns the problem's named fields into one channel-first tensor and
back: each field ``[n, *lead, *space]`` contributes ``prod(lead)`` channels (time
snapshots become channels), fields are concatenated in the problem's order.

:class:`GridOperatorSurrogate` fits normalisers on the training set, builds the network
(subclasses implement :meth:`build_network`), trains it with the one :class:`Trainer`,
and saves weights (``model.pt``, loaded with ``weights_only=True``) next to
``config.json``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike
from pdeml.surrogates.base import Capabilities, Surrogate, check_finite_fields
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.config import TrainerConfig, cap_threads, check_device, default_device
from pdeml.training.losses import make_loss, relative_lp
from pdeml.training.normalize import NORMALIZERS, Normalizer, make_normalizer
from pdeml.training.trainer import Trainer

WEIGHTS = "model.pt"
#: Most values per sample (channels times grid points) a saved run may declare: a 2D grid
#: of 4096 x 4096 with 16 channels. The normalisers allocate that many per field.
MAX_GRID_VALUES = 16 * 4096 * 4096


@dataclasses.dataclass(frozen=True)
class FieldCodec:
    """Stack named fields into channels and split them back."""

    names: tuple[str, ...]
    lead_shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def for_fields(cls, problem: Problem, names: Sequence[str]) -> FieldCodec:
        spatial = problem.spatial_dims()
        leads = []
        for name in names:
            dims = problem.field_dims(name)
            if tuple(dims[len(dims) - len(spatial) :]) != tuple(spatial):
                raise ValueError(
                    f"field {name!r} has dims {dims}; grid surrogates need the "
                    f"spatial dims {spatial} last"
                )
            lead_dims = dims[: len(dims) - len(spatial)]
            coords = problem.coords()
            leads.append(tuple(len(coords[d]) for d in lead_dims))
        return cls(tuple(names), tuple(leads))

    @property
    def channels(self) -> int:
        return sum(math.prod(lead) for lead in self.lead_shapes)

    def encode(self, fields: Mapping[str, np.ndarray]) -> torch.Tensor:
        parts = []
        for name, lead in zip(self.names, self.lead_shapes):
            array = np.asarray(fields[name])
            n, space = array.shape[0], array.shape[1 + len(lead) :]
            parts.append(
                torch.as_tensor(array.reshape(n, math.prod(lead), *space), dtype=torch.float32)
            )
        return torch.cat(parts, dim=1)

    def decode(self, tensor: torch.Tensor) -> dict[str, np.ndarray]:
        out, start = {}, 0
        array = tensor.detach().cpu().to(torch.float64).numpy()
        for name, lead in zip(self.names, self.lead_shapes):
            size = math.prod(lead)
            block = array[:, start : start + size]
            out[name] = block.reshape(array.shape[0], *lead, *array.shape[2:])
            start += size
        return out


def tensor_fingerprint(*tensors: torch.Tensor) -> str:
    """A short hash of the tensors' shapes and values: tells a resume whether it sees the
    data the checkpoint was trained on."""
    import hashlib

    digest = hashlib.blake2b(digest_size=12)
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(repr((array.shape, str(array.dtype))).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def check_grid_arguments(
    surrogate: str, problem: Problem, variant: str, variants: Sequence[str], activation: str
) -> None:
    """Constructor checks shared by the grid operators: variant, dimension, activation."""
    from pdeml.nn.fourier import ACTIVATIONS

    if variant not in variants:
        raise ValueError(f"variant must be one of {tuple(variants)}, got {variant!r}")
    dims = len(problem.spatial_dims())
    if dims not in (1, 2):
        raise ValueError(
            f"{surrogate}: problem {problem.name!r} has {dims} spatial dimensions; "
            f"the {surrogate} surrogate serves 1D and 2D grid problems"
        )
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")


class NormalizedOperator(nn.Module):
    """``decode_y(network(encode_x(x)))``: raw fields in, raw fields out."""

    x_norm: Normalizer
    y_norm: Normalizer

    def __init__(self, network: nn.Module, x_norm: Normalizer, y_norm: Normalizer) -> None:
        super().__init__()
        self.network, self.x_norm, self.y_norm = network, x_norm, y_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.y_norm.decode(self.network(self.x_norm.encode(x)))


class GridOperatorSurrogate(Surrogate):
    """Base of neural operators mapping input fields to output fields on a grid."""

    # Trained by the Trainer, which checkpoints and resumes, on CUDA when present.
    capabilities = Capabilities(checkpoints=True, devices=("cpu", "cuda"))

    def __init__(
        self, problem: Problem, normalizer: str = "pointwise", outputs: Sequence[str] | None = None
    ) -> None:
        super().__init__(problem)
        if normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
        self.output_fields = tuple(outputs or problem.output_names)
        unknown = [k for k in self.output_fields if k not in problem.output_names]
        if unknown:
            raise ValueError(
                f"outputs: unknown fields {unknown}; expected some of {problem.output_names}"
            )
        try:
            self.x_codec = FieldCodec.for_fields(problem, problem.input_names)
            self.y_codec = FieldCodec.for_fields(problem, self.output_fields)
        except ValueError as error:
            raise ValueError(
                f"{self.name}: problem {problem.name!r} does not hold its fields on one grid "
                f"({error}); the {self.name} surrogate serves grid problems"
            ) from None
        self.model: NormalizedOperator | None = None
        #: The input and output shapes (per sample) of the training data of the last fit.
        self.data_shapes: dict[str, list[int]] = {}
        self.device = default_device()
        #: The settings of the last fit (the TrainerConfig fields), saved with the run.
        self.training: dict[str, Any] = {}

    def check_time_stepping(self, variant: str) -> None:
        """Refuse a time-stepping variant unless the problem maps one field with a time
        axis to another (e.g. navier_stokes: w_in -> w_out)."""
        x_leads, y_leads = self.x_codec.lead_shapes, self.y_codec.lead_shapes
        if len(x_leads) != 1 or len(y_leads) != 1 or len(x_leads[0]) != 1 or len(y_leads[0]) != 1:
            raise ValueError(
                f"{self.name} variant {variant!r} needs one input and one output field, "
                "each with a time axis before the space axes, e.g. navier_stokes "
                "(w_in -> w_out)"
            )

    @property
    def periodic(self) -> bool:
        return not self.problem.grid_includes_right_end()

    def build_network(self, c_in: int, c_out: int) -> nn.Module:
        """The trainable network from ``c_in`` to ``c_out`` channels."""
        raise NotImplementedError

    def _build(self, x_shape: Sequence[int], y_shape: Sequence[int]) -> NormalizedOperator:
        kind = self.hyperparameters.get("normalizer", "pointwise")
        network = self.build_network(x_shape[0], y_shape[0])
        return NormalizedOperator(
            network,
            make_normalizer(kind, tuple(x_shape), self.periodic),
            make_normalizer(kind, tuple(y_shape), self.periodic),
        )

    def loss_function(self, name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return make_loss(name, len(self.problem.spatial_dims()), self.periodic)

    @classmethod
    def fit_option_names(cls) -> list[str]:
        """The :class:`TrainerConfig` fields, ``out_dir``, ``resume`` and ``warm_start``."""
        fields = {f.name for f in dataclasses.fields(TrainerConfig)}
        return sorted(fields | {"out_dir", "resume", "warm_start"})

    def check_fit_options(self, options: Mapping[str, Any]) -> None:
        """Refuse unknown options (``TypeError``) and bad settings (``ValueError``, from
        :class:`TrainerConfig`, including a device this machine lacks)."""
        super().check_fit_options(options)
        config = TrainerConfig.from_options(
            {k: v for k, v in options.items() if k not in ("out_dir", "resume", "warm_start")}
        )
        if config.device is not None:
            check_device(config.device)
        if options.get("warm_start"):
            self._check_warm_start()

    def _check_warm_start(self) -> None:
        if self.model is None:
            raise ValueError(
                f"{self.name}.fit: warm_start needs a fitted surrogate (call fit(...) or "
                "pdeml.load_surrogate(...) first)"
            )

    def fit(
        self,
        train: DatasetLike,
        valid: DatasetLike | None = None,
        *,
        out_dir: str | Path | None = None,
        resume: bool = False,
        warm_start: bool = False,
        **options: Any,
    ) -> GridOperatorSurrogate:
        """Train on a :class:`pdeml.Dataset`; ``options`` are :class:`TrainerConfig` fields.

        Parameters
        ----------
        train, valid : pdeml.Dataset
            Training data and optional validation data (relative L2 every epoch).
        out_dir : path, optional
            Checkpoints and ``metrics.jsonl`` go here; with ``resume=True`` an interrupted
            run continues from its last checkpoint.
        warm_start : bool
            Start from the weights and normalisers this surrogate already has (after a
            ``fit`` or :func:`pdeml.load_surrogate`) instead of a fresh initialisation: a
            second training cycle with a new schedule, or fine-tuning on more data of the
            same shape. The optimiser and the schedule start afresh.
        **options
            ``epochs``, ``batch_size``, ``lr``, ``scheduler``, ``loss``, ``device``, ...

        Raises
        ------
        TypeError
            For an option that is not a training setting (the message names it).
        ValueError
            For ``warm_start`` on an unfitted surrogate or on data of other shapes than
            the fitted model's (its normalisers are per grid point).
        """
        super().check_fit_options(options)
        config = TrainerConfig.from_options(options)
        if warm_start:
            self._check_warm_start()
        x, y = self._tensors(train, "train")
        valid_tensors = self._tensors(valid, "valid") if valid is not None else None
        shapes = {"x": list(x.shape[1:]), "y": list(y.shape[1:])}
        torch.manual_seed(config.seed)
        if warm_start:
            if shapes != self.data_shapes:
                raise ValueError(
                    f"{self.name}.fit: warm_start needs training data of the fitted "
                    f"model's shapes {self.data_shapes}, got {shapes}"
                )
        else:
            self.model = self._build(tuple(x.shape[1:]), tuple(y.shape[1:]))
            self.model.x_norm.fit(x)
            self.model.y_norm.fit(y)
            self.data_shapes = shapes
        model = self._fitted_model()
        trainer = Trainer(config)
        self.history = trainer.fit(
            model,
            self.loss_function(config.loss),
            (x, y),
            valid_tensors,
            out_dir=out_dir,
            resume=resume,
            metric_fn=relative_lp,
            run_info={
                "surrogate": self.name,
                "hyperparameters": self.hyperparameters,
                "data": {"train": tensor_fingerprint(x, y), "shapes": self.data_shapes},
                **({"warm_start": True} if warm_start else {}),
            },
        )
        self.training = dataclasses.asdict(config)
        if warm_start:
            self.training["warm_start"] = True
        self.device = str(next(model.parameters()).device)
        self.fitted = True
        return self

    def _tensors(self, data: DatasetLike, argument: str) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_data(data, argument)
        path = getattr(data, "path", None)
        inputs = data.inputs
        check_finite_fields(inputs, argument, "input", path)
        outputs = {k: v for k, v in data.outputs.items() if k in self.output_fields}
        check_finite_fields(outputs, argument, "output", path)
        return self.x_codec.encode(inputs), self.y_codec.encode(outputs)

    def _fitted_model(self) -> NormalizedOperator:
        """The trained model (set by ``fit`` or ``load``)."""
        if self.model is None:
            raise ValueError(f"surrogate {self.name!r} is not fitted; call fit(...) or load(...)")
        return self.model

    @torch.no_grad()
    def solve(
        self, inputs: Mapping[str, np.ndarray], batch_size: int = 64
    ) -> dict[str, np.ndarray]:
        """Predict the outputs for a batch of inputs (any resolution the grid allows)."""
        self._require_fitted()
        checked = self.problem.check_inputs(inputs)
        cap_threads()
        x = self.x_codec.encode(checked)
        model = self._fitted_model()
        model.eval()
        device = next(model.parameters()).device
        parts = [
            model(x[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, x.shape[0], batch_size)
        ]
        return self.y_codec.decode(torch.cat(parts))

    def parameter_count(self) -> int:
        """Trainable real parameters of the network (complex weights count twice)."""
        from pdeml.nn.fourier import count_parameters

        self._require_fitted()
        return count_parameters(self._fitted_model().network)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.fitted:
            out["parameters"] = self.parameter_count()
        return out

    def _save_state(self, folder: Path) -> dict[str, Any]:
        state = {k: v.detach().cpu() for k, v in self._fitted_model().state_dict().items()}
        save_checkpoint(folder / WEIGHTS, state)
        return {
            "data_shapes": self.data_shapes,
            "training": self.training,
            "parameters": self.parameter_count(),
        }

    def _check_data_shapes(self, folder: Path, shapes: Any) -> dict[str, list[int]]:
        """The saved ``data_shapes`` if they fit this surrogate (an edited file must not
        make us allocate an arbitrary array)."""
        where = f"{folder / 'config.json'}: key 'data_shapes'"
        if not isinstance(shapes, dict) or set(shapes) != {"x", "y"}:
            raise ValueError(f"{where}: expected {{'x': [...], 'y': [...]}}, got {shapes!r}")
        dims = len(self.problem.spatial_dims())
        for key, codec in (("x", self.x_codec), ("y", self.y_codec)):
            shape = shapes[key]
            if (
                not isinstance(shape, list)
                or len(shape) != 1 + dims
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)
            ):
                raise ValueError(
                    f"{where}.{key}: expected {1 + dims} positive integers, got {shape!r}"
                )
            if shape[0] != codec.channels:
                raise ValueError(
                    f"{where}.{key}: {shape[0]} channels, but the problem's fields give "
                    f"{codec.channels}"
                )
            if math.prod(shape) > MAX_GRID_VALUES:
                raise ValueError(
                    f"{where}.{key}: {shape} is {math.prod(shape):.3g} values per sample, "
                    f"more than the {MAX_GRID_VALUES:.3g} allowed"
                )
        return shapes

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        shapes = self._check_data_shapes(folder, config.get("data_shapes"))
        self.model = self._build(shapes["x"], shapes["y"])
        try:
            self.model.load_state_dict(load_checkpoint(folder / WEIGHTS))
        except RuntimeError as error:
            raise ValueError(
                f"{folder / WEIGHTS}: weights do not match the saved hyperparameters ({error})"
            ) from None
        self.data_shapes = shapes
        self.training = config.get("training", {})
        self.model.to(default_device())
