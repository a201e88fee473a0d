"""The U-Net surrogate, ``"unet"``: the classic U-Net of the PDE benchmarks.

Ronneberger, Fischer, Brox (MICCAI 2015), in the form PDEBench (Takamoto et al., NeurIPS
2022) and The Well (Ohana et al., NeurIPS 2024) use as a baseline (:mod:`pdeml.nn.unet`).
Convolutions and the grid padding wrap around on periodic grids (Burgers, Navier–Stokes)
and pad with zeros on grids holding both ends (Darcy); any grid size runs.

Two set-ups, chosen by ``variant``:

* ``"direct"``: input fields to output fields, time snapshots stacked as channels.
* ``"recurrent"`` (Navier–Stokes): the network maps the last ``t_in`` snapshots to the next
  one and is rolled out one step at a time, as the FNO's recurrent variant.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from pdeml._checks import check_int
from pdeml.nn.unet import NORMS, UNet, default_levels, most_levels, unet_parameter_count
from pdeml.problems.base import Problem
from pdeml.surrogates.base import check_parameter_count, register_surrogate
from pdeml.surrogates.fno import RecurrentOperator
from pdeml.surrogates.neural import GridOperatorSurrogate, check_grid_arguments

VARIANTS = ("direct", "recurrent")


@register_surrogate
class UNetSurrogate(GridOperatorSurrogate):
    """Classic U-Net.

    Parameters
    ----------
    problem : Problem
        A grid problem with 1 or 2 spatial dimensions (spatial dims last in every field).
    width : int
        Channels of the first level, doubled at every level down (32 in PDEBench and
        The Well).
    levels : int, optional
        Poolings from the grid to the bottleneck. Default: the benchmarks' 4, or as many
        as keep the coarsest grid at >= 2 points (15 points: 3 levels).
    activation : str
        ``gelu`` (default), ``relu``, ``tanh`` (the benchmarks) or ``silu``.
    norm : {"batch", "group", "instance", "none"}
        Normalisation after each convolution; ``batch`` as in the benchmarks.
    normalizer : {"pointwise", "channel", "none"}
        Per-point or per-channel Gaussian scaling of inputs and outputs, fitted on the
        training set; ``"none"`` is forced for the recurrent variant, which feeds its
        outputs back as inputs.
    variant : {"direct", "recurrent"}
        ``"direct"`` (default) or ``"recurrent"``, see the module docstring.
    outputs : list of str, optional
        The output fields to learn; default every output field of the problem.

    Raises
    ------
    ValueError
        Naming the argument: a problem that is not a 1D or 2D grid, the recurrent variant
        for a problem without one time-dependent input and one output field, a grid too
        small for ``levels``, or another bad hyperparameter.

    Examples
    --------
    >>> import pdeml
    >>> darcy = pdeml.problems.Darcy2D(resolution=29, solver_resolution=85)
    >>> unet = pdeml.make_surrogate("unet", darcy, width=16)
    >>> unet.hyperparameters["levels"], unet.periodic
    (4, False)
    """

    name = "unet"

    def __init__(
        self,
        problem: Problem,
        width: int = 32,
        levels: int | None = None,
        activation: str = "gelu",
        norm: str = "batch",
        normalizer: str = "pointwise",
        variant: str = "direct",
        outputs: Sequence[str] | None = None,
    ) -> None:
        check_grid_arguments("unet", problem, variant, VARIANTS, activation)
        check_int("width", width)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if variant == "recurrent":
            normalizer = "none"
        super().__init__(problem, normalizer=normalizer, outputs=outputs)
        if variant == "recurrent":
            self.check_time_stepping(variant)
        dims = len(problem.spatial_dims())
        finest = min(problem.field_shape(problem.input_names[0])[-dims:])
        most = most_levels(finest)
        if most < 1:
            raise ValueError(
                f"unet: problem {problem.name!r} has a grid of {finest} points in some "
                "direction; the U-Net needs at least 3 to pool once"
            )
        if levels is None:
            levels = default_levels(finest)
        check_int("levels", levels)
        if levels > most:
            raise ValueError(
                f"levels must be at most {most} on a grid of {finest} points (the coarsest "
                f"grid keeps >= 2 points), got {levels}"
            )
        c_out = 1 if variant == "recurrent" else self.y_codec.channels
        check_parameter_count(
            "unet",
            unet_parameter_count(self.x_codec.channels, c_out, dims, width, levels, norm),
            "width and levels",
        )
        # As given, but levels resolved and the recurrent variant's normalizer forced.
        names = ("width", "levels", "activation", "norm", "normalizer", "variant")
        values = (width, levels, activation, norm, normalizer, variant)
        self._set_hyperparameters({**dict(zip(names, values)), "outputs": list(self.output_fields)})

    def build_network(self, c_in: int, c_out: int) -> nn.Module:
        h = self.hyperparameters
        # The recurrent variant's network makes one snapshot, rolled out for every output one.
        steps = self.y_codec.lead_shapes[0][0] if h["variant"] == "recurrent" else None
        net = UNet(
            c_in,
            c_out if steps is None else 1,
            dims=len(self.problem.spatial_dims()),
            padding_mode="circular" if self.periodic else "zeros",
            **{k: h[k] for k in ("width", "levels", "activation", "norm")},
        )
        return net if steps is None else RecurrentOperator(net, steps)
