"""The multigrid neural operator surrogate, ``"mgno"`` (He, Liu, Xu, ICLR 2024).

Each layer is ``σ(VCycle(u) + W u + b)``: a learned multigrid V-cycle (3×3 smoothing
convolutions, stride-2 3×3 restrictions, stride-2 4×4 transposed-convolution
prolongations; :mod:`pdeml.nn.multigrid`) plus a 1×1 convolution, and a 1×1 head maps the
last layer to the outputs. Convolutions pad with zeros on Dirichlet grids (both ends
stored, e.g. Darcy) and wrap around on periodic ones (Navier–Stokes, Burgers).

Two set-ups, chosen by ``variant``:

* ``"direct"``: input fields to output fields, time snapshots stacked as channels.
* ``"recurrent"`` (Navier–Stokes): the network maps the last ``t_in`` snapshots to the next
  one and is rolled out one step at a time, as the FNO's recurrent variant.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from pdeml._checks import check_int
from pdeml.nn.multigrid import MgNO, coarse_size, default_levels
from pdeml.problems.base import Problem
from pdeml.surrogates.base import check_parameter_count, register_surrogate
from pdeml.surrogates.fno import RecurrentOperator
from pdeml.surrogates.neural import GridOperatorSurrogate, check_grid_arguments

VARIANTS = ("direct", "recurrent")


def _steps(name: str, value: int | Sequence[int], levels: int) -> list[int]:
    """Smoothing steps per level from an int (every level) or a list (one per level)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * levels
    try:
        steps = list(value)  # type: ignore[arg-type]  # a bool: the TypeError below
    except TypeError:
        raise ValueError(
            f"{name} must be an int or a list of {levels} ints, got {value!r}"
        ) from None
    if len(steps) != levels or any(
        isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in steps
    ):
        raise ValueError(
            f"{name} must be an int >= 0 or a list of {levels} ints >= 0 (one per level, "
            f"finest first), got {value!r}"
        )
    return steps


@register_surrogate
class MgNOSurrogate(GridOperatorSurrogate):
    """Multigrid neural operator.

    Parameters
    ----------
    problem : Problem
        A grid problem with 1 or 2 spatial dimensions (spatial dims last in every field).
    channels : int
        Channels of every layer (24 in the paper).
    layers : int
        V-cycle layers (4 in the paper's Darcy set-up).
    levels : int, optional
        Grids per V-cycle, the finest included. Default: as many as keep the coarsest grid
        at 3 points or more, at most 5 (85 → 43 → 22 → 11 → 6; 43 → ... → 3; 32 → ... → 4).
    pre_smoothing : int or list of int
        Smoothing steps per level on the way down, finest first (an int means the same on
        every level). Default 1, the paper code's default ``[[1, 0]] * levels``.
    post_smoothing : int or list of int
        Smoothing steps per level on the way up (default 0, as in the paper's code:
        the correction is prolonged and added without further smoothing). On the coarsest
        level they follow the pre-smoothing steps.
    activation : str
        ``gelu`` (the paper), ``relu``, ``tanh`` or ``silu``.
    normalizer : {"pointwise", "channel", "none"}
        Gaussian normalisation of inputs and outputs fitted on the training set (the
        recurrent variant always uses ``"none"``: its outputs are fed back as inputs).
    variant : {"direct", "recurrent"}
        See the module docstring; default ``"direct"``.
    outputs : list of str, optional
        Output fields to learn (default: all).

    Raises
    ------
    ValueError
        For a problem with other than 1 or 2 spatial dimensions, ``variant="recurrent"``
        on a problem without one time-dependent input and output field, or a bad
        hyperparameter (the message names it).

    Examples
    --------
    >>> import pdeml
    >>> darcy = pdeml.problems.Darcy2D(resolution=29, solver_resolution=85)
    >>> mgno = pdeml.make_surrogate("mgno", darcy, channels=16, layers=3)
    >>> mgno.hyperparameters["levels"], mgno.hyperparameters["pre_smoothing"]
    (4, [1, 1, 1, 1])
    """

    name = "mgno"

    def __init__(
        self,
        problem: Problem,
        channels: int = 24,
        layers: int = 4,
        levels: int | None = None,
        pre_smoothing: int | Sequence[int] = 1,
        post_smoothing: int | Sequence[int] = 0,
        activation: str = "gelu",
        normalizer: str = "pointwise",
        variant: str = "direct",
        outputs: Sequence[str] | None = None,
    ) -> None:
        check_grid_arguments("mgno", problem, variant, VARIANTS, activation)
        dims = len(problem.spatial_dims())
        check_int("channels", channels)
        check_int("layers", layers)
        if variant == "recurrent":
            normalizer = "none"
        super().__init__(problem, normalizer=normalizer, outputs=outputs)
        if variant == "recurrent":
            self.check_time_stepping(variant)
        if levels is None:
            # The coarsest level sets how far information travels in one cycle; keep it at
            # >= 3 points so that its 3x3 stencils still see a neighbourhood.
            levels = default_levels(min(problem.field_shape(problem.input_names[0])[-dims:]))
        check_int("levels", levels)
        finest = min(problem.field_shape(problem.input_names[0])[-dims:])
        # Past one point a restriction changes nothing: more levels only add weights.
        most, size = 1, finest
        while size > 1:
            size, most = coarse_size(size), most + 1
        if levels > most:
            raise ValueError(
                f"levels must be at most {most} on a grid of {finest} points (the coarsest "
                f"level is then 1 point), got {levels}"
            )
        pre = _steps("pre_smoothing", pre_smoothing, levels)
        post = _steps("post_smoothing", post_smoothing, levels)
        if sum(pre) + sum(post) < 1:
            raise ValueError("pre_smoothing and post_smoothing: the V-cycle needs >= 1 step")
        # Per layer and level: the smoothing steps, one restriction and one prolongation
        # (kernels of at most 4 points per direction), plus the 1x1 branch.
        convolutions = levels * 2 + sum(pre) + sum(post)
        check_parameter_count(
            "mgno",
            layers * (convolutions * 4**dims + 1) * channels * channels,
            "channels, layers, levels and the smoothing steps",
        )
        self._set_hyperparameters(
            {
                "channels": channels,
                "layers": layers,
                "levels": levels,
                "pre_smoothing": pre,
                "post_smoothing": post,
                "activation": activation,
                "normalizer": normalizer,
                "variant": variant,
                "outputs": list(self.output_fields),
            }
        )

    @property
    def padding_mode(self) -> str:
        """``"circular"`` on periodic grids, ``"zeros"`` on grids with both ends."""
        return "circular" if self.periodic else "zeros"

    def build_network(self, c_in: int, c_out: int) -> nn.Module:
        h = self.hyperparameters
        recurrent = h["variant"] == "recurrent"
        net = MgNO(
            c_in,
            1 if recurrent else c_out,
            dims=len(self.problem.spatial_dims()),
            channels=h["channels"],
            layers=h["layers"],
            pre_smoothing=h["pre_smoothing"],
            post_smoothing=h["post_smoothing"],
            activation=h["activation"],
            padding_mode=self.padding_mode,
        )
        if recurrent:
            return RecurrentOperator(net, self.y_codec.lead_shapes[0][0])
        return net
