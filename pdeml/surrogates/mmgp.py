"""MMGP, ``"mmgp"``: mesh-morphing Gaussian-process regression for fields on varying meshes.

After Casenave, Staber & Roynard, *MMGP: a Mesh Morphing Gaussian Process-based machine
learning method for regression of physical problems under non-parameterized geometrical
variability* (NeurIPS 2023):

1. each sample's mesh is morphed onto the unit disk (:func:`pdeml.mesh.morph.morph_to_disk`:
   boundary by arc length, interior by a mean-value Floater/Tutte solve);
2. fields go by P1 interpolation from the morphed mesh to one common mesh of the disk
   (:func:`pdeml.mesh.morph.disk_mesh`), and so do the sample's physical node coordinates:
   the inverse morph sampled on the common mesh, the shape descriptor;
3. POD with the common mesh's mass matrix reduces the coordinates and each nodal output
   field to a few coefficients (:class:`pdeml.mesh.pod.POD`);
4. one exact GP (:class:`pdeml.gp.GaussianProcess`, ARD Matérn-5/2, restarts) maps
   (shape coefficients, scalar inputs) to (field coefficients, scalar outputs), every
   output an independent GP, all trained in one batch;
5. predictions are decoded on the common mesh and interpolated back through the sample's
   own morph to its nodes. The field's uncertainty comes from posterior draws of the
   coefficients, each decoded to the mesh (the paper's recipe); scalar outputs take the GP
   variance directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from pdeml._checks import check_int
from pdeml.gp import GaussianProcess
from pdeml.mesh.interpolate import interpolation_matrix
from pdeml.mesh.morph import WEIGHTS, disk_mesh, morph_to_disk
from pdeml.mesh.pod import POD, check_modes
from pdeml.mesh.topology import trim_mesh
from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike
from pdeml.surrogates.base import register_surrogate
from pdeml.surrogates.gp_base import GPSurrogate
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint

STATE = "mmgp.pt"
MESH_INPUTS = ("nodes", "triangles", "n_nodes", "n_triangles")


def _p1_mass(nodes: np.ndarray, triangles: np.ndarray) -> scipy.sparse.csr_matrix:
    """Consistent P1 mass matrix (the reference solver's, :func:`pdeml.solvers.fem.mass_matrix`)."""
    from pdeml.solvers.fem import mass_matrix

    return mass_matrix(nodes, triangles)


@register_surrogate
class MMGPSurrogate(GPSurrogate):
    """Mesh-morphing GP surrogate for problems on varying meshes (``darcy_mesh``).

    Parameters
    ----------
    problem : Problem
        A problem with the padded mesh inputs ``nodes``, ``triangles``, ``n_nodes``,
        ``n_triangles`` (simply connected domains), scalar inputs, nodal output fields
        (dims ``("node",)``) and scalar outputs.
    rings : int
        Resolution of the common disk mesh (``3 rings (rings + 1) + 1`` nodes, spacing
        ``1 / rings``); choose it about as fine as the sample meshes.
    weights : {"mean-value", "uniform"}
        Interior weights of the morph.
    shape_modes, field_modes : int or float
        POD modes of the coordinates and of each output field: a number, or a fraction of
        the snapshot variance to keep (the paper uses 8 to 40).
    kernel : {"matern52", "rbf"}
        GP kernel (ARD).
    n_samples : int
        Posterior draws per sample for the field variance in :meth:`solve_with_uncertainty`.
    predictive_noise : bool
        Include the GP's learned noise variance in predictive variances (it absorbs what
        the GP cannot fit in the coefficients), as for a new observation.
    residual_variance : bool
        Add to the field variance the mean square of what the transfer to the common mesh,
        the POD truncation and the transfer back lose on the training samples (a map on
        the common mesh, interpolated to each sample's nodes): the error left with exact
        coefficients, which the GP cannot see.

    Notes
    -----
    The marginal-likelihood optimisation (``restarts``, ``max_iter``, ``hyper_samples``,
    ``seed``) is set in :meth:`fit`; the seed of the fit also seeds the posterior draws.
    """

    name = "mmgp"

    def __init__(
        self,
        problem: Problem,
        rings: int = 20,
        weights: str = "mean-value",
        shape_modes: int | float = 16,
        field_modes: int | float = 16,
        kernel: str = "matern52",
        n_samples: int = 200,
        predictive_noise: bool = True,
        residual_variance: bool = True,
    ) -> None:
        super().__init__(
            problem,
            kernel,
            predictive_noise=predictive_noise,
            residual_variance=residual_variance,
        )
        missing = [k for k in MESH_INPUTS if k not in problem.input_names]
        if missing:
            raise ValueError(
                f"mmgp: problem {problem.name!r} has no mesh inputs {missing}; the mmgp "
                "surrogate serves problems on varying meshes such as 'darcy_mesh'"
            )
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
        self.scalar_inputs = tuple(
            k for k in problem.input_names if k not in MESH_INPUTS and problem.field_dims(k) == ()
        )
        self.field_outputs = tuple(
            k for k in problem.output_names if problem.field_dims(k) == ("node",)
        )
        self.scalar_outputs = tuple(k for k in problem.output_names if problem.field_dims(k) == ())
        other = set(problem.output_names) - set(self.field_outputs) - set(self.scalar_outputs)
        if other:
            raise ValueError(f"mmgp: outputs {sorted(other)} are neither nodal nor scalar")
        self._set_hyperparameters(
            {
                "rings": check_int("rings", rings, 2),
                "weights": weights,
                "shape_modes": check_modes("shape_modes", shape_modes),
                "field_modes": check_modes("field_modes", field_modes),
                "kernel": kernel,
                "n_samples": check_int("n_samples", n_samples, 2),
                "predictive_noise": predictive_noise,
                "residual_variance": residual_variance,
            }
        )
        self.common_nodes, self.common_triangles = disk_mesh(self.hyperparameters["rings"])

    # -- geometry ---------------------------------------------------------------------------
    def _meshes(self, inputs: Mapping[str, np.ndarray], argument: str) -> list[tuple]:
        missing = [k for k in (*MESH_INPUTS, *self.scalar_inputs) if k not in inputs]
        if missing:
            raise ValueError(f"{argument}: missing fields {missing}")
        counts = np.asarray(inputs["n_nodes"])
        if counts.ndim != 1:
            raise ValueError(f"{argument}['n_nodes']: expected shape (n,), got {counts.shape}")
        return [
            trim_mesh(
                inputs["nodes"][i],
                inputs["triangles"][i],
                inputs["n_nodes"][i],
                inputs["n_triangles"][i],
            )
            for i in range(len(counts))
        ]

    def _to_common(
        self, nodes: np.ndarray, triangles: np.ndarray
    ) -> tuple[np.ndarray, scipy.sparse.csr_matrix]:
        """The sample's morph, and P1 matrices common mesh <- sample and sample <- common."""
        morphed = morph_to_disk(nodes, triangles, self.hyperparameters["weights"])
        gather = interpolation_matrix(self.common_nodes, morphed, triangles)
        return morphed, gather

    def _scalars(
        self, data: Mapping[str, np.ndarray], names: tuple[str, ...], n: int
    ) -> np.ndarray:
        columns = [np.asarray(data[k], dtype=np.float64).reshape(n) for k in names]
        return np.column_stack(columns) if columns else np.zeros((n, 0))

    # -- training ---------------------------------------------------------------------------
    def fit(  # type: ignore[override]  # its options by name: fit_option_names()
        self,
        train: DatasetLike,
        valid: DatasetLike | None = None,
        *,
        restarts: int = 1,
        max_iter: int = 100,
        hyper_samples: int | None = 200,
        seed: int = 0,
        device: str | None = None,
        progress: bool = True,
    ) -> MMGPSurrogate:
        """Learn from a :class:`pdeml.Dataset` of the problem. Returns ``self``.

        Parameters
        ----------
        train : pdeml.Dataset
            Training data (at least 3 samples).
        valid : pdeml.Dataset, optional
            Not used (a GP has no epochs to monitor); accepted for the common interface.
        restarts, max_iter : int
            Marginal-likelihood optimisation: restarts per output and L-BFGS iterations.
        hyper_samples : int or None
            Optimise the GP hyperparameters on at most this many training samples (a
            seeded random subset), then condition the GP on all of them. The marginal
            likelihood costs ``O(n^3)`` per output, restart and iteration, so this bounds
            the training time (one optimiser step over 34 outputs took 10x longer with 500
            samples than with 200 in a one-off timing); ``None`` uses every sample. The
            defaults (``rings=20``, 16 field modes, 1 restart, 100 iterations, 200 samples
            here) fit 500 paper-preset samples in 64 s on a nearly idle 2-core CPU
            (``validation/reports/darcy_mesh_paper``).
        seed : int
            Seed of the restarts, the hyperparameter subset and the posterior draws of
            :meth:`solve_with_uncertainty`.
        device : str, optional
            Torch device of the GP (default: CUDA when available, else CPU).
        progress : bool
            Accepted and ignored (the runner and the CLI pass it to every surrogate).
        """
        if hyper_samples is not None:
            check_int("hyper_samples", hyper_samples, 3)
        self._start_fit(train, restarts, max_iter, seed, device, hyper_samples=hyper_samples)
        inputs, outputs = train.inputs, train.outputs
        meshes = self._meshes(inputs, "train")
        n = len(meshes)
        if n < 3:
            raise ValueError(f"train: expected at least 3 samples, got {n}")
        coords = np.zeros((n, len(self.common_nodes), 2))
        fields = {k: np.zeros((n, len(self.common_nodes))) for k in self.field_outputs}
        transfers = []
        for i, (nodes, triangles) in enumerate(meshes):
            morphed, gather = self._to_common(nodes, triangles)
            transfers.append((morphed, triangles, gather))
            coords[i] = gather @ nodes
            for k in self.field_outputs:
                fields[k][i] = gather @ outputs[k][i, : len(nodes)]
        mass = _p1_mass(self.common_nodes, self.common_triangles)
        h = self.hyperparameters
        self.shape_pod = POD(h["shape_modes"]).fit(coords, mass)
        self.field_pods = {k: POD(h["field_modes"]).fit(v, mass) for k, v in fields.items()}
        self.residual_var = self._residual_variance(transfers, fields, outputs)
        x = np.hstack([self.shape_pod.encode(coords), self._scalars(inputs, self.scalar_inputs, n)])
        y = np.hstack(
            [self.field_pods[k].encode(fields[k]) for k in self.field_outputs]
            + [self._scalars(outputs, self.scalar_outputs, n)]
        )
        self._fit_gp(x, y)
        self.fitted = True
        return self

    def _fit_gp(self, x: np.ndarray, y: np.ndarray) -> None:
        """Hyperparameters from (a subset of) the samples, the posterior from all of them."""
        limit = self.training["hyper_samples"]
        if limit is None or limit >= len(x):
            self.gp.fit(x, y)
            return
        import torch

        rng = np.random.default_rng(self.training["seed"])
        subset = np.sort(rng.choice(len(x), size=limit, replace=False))
        gp = self.gp.fit(x[subset], y[subset])
        # Condition on every sample with the hyperparameters (and the standardisation) found
        # on the subset: one O(n^3) factorisation instead of one per optimiser step.
        xs = gp._tensor((x - gp.x_mean) / gp.x_std)
        ys = gp._tensor((y - gp.y_mean) / gp.y_std).T.contiguous()
        gp._set_posterior(xs, ys, {**gp._raw, "nlml": torch.as_tensor(gp.nlml)})

    def _residual_variance(
        self,
        transfers: Sequence[tuple[np.ndarray, np.ndarray, scipy.sparse.csr_matrix]],
        fields: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
    ) -> dict[str, np.ndarray]:
        """Mean square, on the common mesh, of what the round trip sample mesh -> common
        mesh -> POD truncation -> sample mesh loses on the training samples: the error of
        the field even with exact coefficients, which the GP variance cannot see."""
        out = {}
        for k in self.field_outputs:
            pod = self.field_pods[k]
            recon = pod.decode(pod.encode(fields[k]))
            total = np.zeros(len(self.common_nodes))
            for i, (morphed, _triangles, gather) in enumerate(transfers):
                back = interpolation_matrix(morphed, self.common_nodes, self.common_triangles)
                error = outputs[k][i, : len(morphed)] - back @ recon[i]
                total += gather @ (error * error)
            out[k] = total / len(transfers)
        return out

    # -- prediction -------------------------------------------------------------------------
    def _encode(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, list[scipy.sparse.csr_matrix]]:
        meshes = self._meshes(inputs, "inputs")
        n = len(meshes)
        coords, back = [], []
        for nodes, triangles in meshes:
            morphed, gather = self._to_common(nodes, triangles)
            coords.append(gather @ nodes)
            back.append(interpolation_matrix(morphed, self.common_nodes, self.common_triangles))
        shape = self.shape_pod.encode(np.asarray(coords)) if n else np.zeros((0, 0))
        x = np.hstack([shape, self._scalars(inputs, self.scalar_inputs, n)])
        return x, back

    def _split(self, y: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Columns of the GP output: field coefficients per field, then scalars."""
        fields, start = {}, 0
        for k in self.field_outputs:
            size = self.field_pods[k].n_modes
            fields[k] = y[..., start : start + size]
            start += size
        scalars = {k: y[..., start + j] for j, k in enumerate(self.scalar_outputs)}
        return fields, scalars

    def _padded(self, rows: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(rows), int(self.problem.max_nodes)))
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out

    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Predictive mean: nodal fields padded to ``[n, max_nodes]`` (zeros past
        ``n_nodes``) and scalars ``[n]``."""
        return self._predict(inputs, uncertainty=False)[0]

    def solve_with_uncertainty(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Predictive mean and variance, each a dict shaped like :meth:`solve`.

        Field variances are sample variances of ``n_samples`` posterior draws of the field
        coefficients, each decoded to the sample's mesh; scalar variances are the GP's.
        Both include the learned noise variance when ``predictive_noise`` is set.
        """
        return self._mean_and_variance(inputs)

    def _predict_checked(
        self, inputs: dict[str, np.ndarray], uncertainty: bool
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        x, back = self._encode(inputs)
        noise = self.hyperparameters["predictive_noise"]
        mean_y, var_y = self.gp.predict(x, noise=noise)
        mean_f, mean_s = self._split(mean_y)
        var_f, var_s = self._split(var_y)
        mean = {
            k: self._padded(
                [b @ self.field_pods[k].decode(c[None])[0] for b, c in zip(back, mean_f[k])]
            )
            for k in self.field_outputs
        }
        mean |= mean_s
        if not uncertainty:
            return mean, None
        s = self.hyperparameters["n_samples"]
        variance = {}
        for j, k in enumerate(self.field_outputs):
            # One set of standard-normal draws per field, shared by every sample, so that a
            # sample's variance depends on that sample only (not on its place in the batch
            # or on the other samples in it).
            width = len(mean_f[k][0]) if len(mean_f[k]) else 0
            z = np.random.default_rng([self.training.get("seed", 0), j]).standard_normal((s, width))
            rows = []
            for b, m, v in zip(back, mean_f[k], var_f[k]):
                # The GP's outputs are independent, so the posterior of one sample's
                # coefficients is the product of its marginals: exact draws.
                draws = m + np.sqrt(v) * z
                rows.append((b @ self.field_pods[k].decode(draws).T).var(axis=1, ddof=1))
                if self.hyperparameters["residual_variance"]:
                    rows[-1] = rows[-1] + b @ self.residual_var[k]
            variance[k] = self._padded(rows)
        return mean, variance | var_s

    # -- persistence ------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        import torch

        state = {
            "gp": self.gp.state_dict(),
            "shape_pod": {k: torch.as_tensor(v) for k, v in self.shape_pod.state().items()},
            "field_pods": {
                k: {a: torch.as_tensor(b) for a, b in pod.state().items()}
                for k, pod in self.field_pods.items()
            },
            "residual_var": {k: torch.as_tensor(v) for k, v in self.residual_var.items()},
        }
        save_checkpoint(folder / STATE, state)
        return {
            "training": self.training,
            "modes": {
                "shape": self.shape_pod.n_modes,
                **{k: p.n_modes for k, p in self.field_pods.items()},
            },
        }

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        state = load_checkpoint(folder / STATE)
        try:
            self.gp = GaussianProcess.from_state_dict(state["gp"])
            self.shape_pod = POD.from_state(state["shape_pod"])
            self.field_pods = {
                k: POD.from_state(state["field_pods"][k]) for k in self.field_outputs
            }
            self.residual_var = {
                k: np.asarray(state["residual_var"][k], dtype=np.float64)
                for k in self.field_outputs
            }
        except KeyError as error:
            raise ValueError(f"{folder / STATE}: missing entry {error}") from None
        self._load_training(config)
