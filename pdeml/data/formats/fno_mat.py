"""The FNO paper's MATLAB files (Li et al., ICLR 2021), old format and v7.3 (HDF5).

=================  ===============================  =========================================
problem            keys                             mapping
=================  ===============================  =========================================
``burgers``        ``a``, ``u`` ``[N, 8192]``       ``u0 = a``, ``u = u``
``darcy``          ``coeff``, ``sol`` ``[N, s, s]``  ``a = coeff``, ``u = sol`` (both ends kept)
``navier_stokes``  ``u`` ``[N, s, s, T]`` (``t``)   ``w_in = u[..., :t_in]``, ``w_out`` the rest
=================  ===============================  =========================================

MATLAB v7.3 files are HDF5 files whose arrays are stored in column-major order: h5py sees
every array with its axes reversed, so they are transposed back on read (and on write).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.data.dataset import Dataset
from pdeml.data.formats._common import (
    Imported,
    atomic_output,
    existing_file,
    file_label,
    finite_array,
    fit_grid,
    key_error,
    opened,
    require_keys,
    require_rank,
    sample_count,
    stored_fields,
    uniform_spacing,
    unsupported,
)
from pdeml.problems.base import Problem

FORMAT = "fno-mat"
VERSIONS = ("5", "7.3")
_NUMERIC = {
    "double",
    "single",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
}


class MatFile:
    """Read access to a MATLAB file of either version, arrays in MATLAB's axis order."""

    def __init__(self, path: Path, label: str) -> None:
        import h5py

        self.path, self.label = path, label
        self._h5: Any = None
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.classes: dict[str, str] = {}
        if h5py.is_hdf5(path):
            self.version = "7.3"
            try:
                self._h5 = h5py.File(path, "r")
            except OSError as error:
                raise ValueError(
                    f"{label}: not a readable MATLAB v7.3 (HDF5) file ({error})"
                ) from None
            for key, item in self._h5.items():
                if key.startswith("#"):  # MATLAB's '#refs#' and '#subsystem#' groups
                    continue
                if isinstance(item, h5py.Dataset):
                    cls = item.attrs.get("MATLAB_class", b"double")
                    self.classes[key] = cls.decode() if isinstance(cls, bytes) else str(cls)
                    self.shapes[key] = tuple(reversed(item.shape))
                else:
                    self.classes[key], self.shapes[key] = "struct", ()
        else:
            from scipy.io import whosmat

            self.version = "5"
            try:
                entries = whosmat(str(path))
            except Exception as error:  # scipy raises several types for non-MAT files
                raise ValueError(
                    f"{label}: not a MATLAB .mat file ({type(error).__name__}: {error})"
                ) from None
            for key, shape, cls in entries:
                self.shapes[key], self.classes[key] = tuple(shape), cls

    def __enter__(self) -> MatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._h5 is not None:
            self._h5.close()

    def shape(self, key: str, what: str) -> tuple[int, ...]:
        """Shape of a numeric array (MATLAB order); a one-line error if it is not one."""
        require_keys(self.label, self.shapes, (key,), what)
        if self.classes[key] not in _NUMERIC:
            raise key_error(self.label, key, what, f"MATLAB class {self.classes[key]!r}")
        return self.shapes[key]

    def read(self, key: str, index: tuple[slice, ...]) -> np.ndarray:
        """``array[index]`` in MATLAB's axis order, checked to be finite."""
        if self._h5 is not None:
            # h5py sees the reversed axes: index them reversed, then transpose back.
            full = index + (slice(None),) * (len(self.shapes[key]) - len(index))
            array = np.transpose(self._h5[key][tuple(reversed(full))])
        else:
            from scipy.io import loadmat

            array = loadmat(str(self.path), variable_names=[key])[key][index]
        return finite_array(self.label, key, np.ascontiguousarray(array))


def read_fno_mat(
    path: str | Path, problem: Problem, *, resolution: int | None = None, n: int | None = None
) -> Imported:
    """Read an FNO-paper ``.mat`` file (either MATLAB version) onto ``problem``.

    Parameters
    ----------
    path : str or Path
        The ``.mat`` file.
    problem : Problem
        A ``Burgers1D``, ``Darcy2D`` or ``NavierStokes2D`` whose physical parameters
        describe the data (the files do not record them); its grid is set from the file.
    resolution : int, optional
        Store a coarser grid, taken by striding (default: the file's grid).
    n : int, optional
        Read only the first ``n`` samples.

    Returns
    -------
    Imported
        The fitted problem, the fields, and the provenance record.
    """
    path = existing_file(FORMAT, path)
    label = file_label(FORMAT, path)
    if problem.name not in _READERS:
        raise unsupported(FORMAT, problem, _READERS)
    with MatFile(path, label) as mat:
        imported = _READERS[problem.name](mat, problem, label, resolution, n)
        used = set(imported.source.pop("used"))
        imported.source = {
            "file": path.name,
            "format": FORMAT,
            "variant": f"MATLAB v{mat.version}",
            **imported.source,
            "unused_keys": sorted(k for k in mat.shapes if k not in used),
        }
    return imported


def _burgers(mat: MatFile, problem: Problem, label: str, resolution: Any, n: Any) -> Imported:
    shape = mat.shape("a", "the initial conditions, a numeric array [N, x]")
    require_rank(label, "a", shape, 2, "[N, x]")
    if mat.shape("u", "the solutions, a numeric array [N, x]") != shape:
        raise key_error(label, "u", f"the shape of 'a', {shape}", f"{mat.shapes['u']}")
    count = sample_count(label, n, shape[0])
    fitted, stride = fit_grid(problem, shape[1], resolution, label, n_t=0)
    index = (slice(0, count), slice(None, None, stride))
    source = {
        "keys": {"u0": "a", "u": "u"},
        "used": ["a", "u"],
        "native_resolution": shape[1],
        "stride": stride,
        "set_by_file": {"n_t": 0},
        "notes": ["nu, T and the input distribution are the problem's: the file holds none"],
    }
    return Imported(fitted, {"u0": mat.read("a", index)}, {"u": mat.read("u", index)}, source)


def _darcy(mat: MatFile, problem: Problem, label: str, resolution: Any, n: Any) -> Imported:
    shape = mat.shape("coeff", "the coefficients, a numeric array [N, x, y]")
    require_rank(label, "coeff", shape, 3, "[N, x, y]")
    if shape[1] != shape[2]:
        raise key_error(label, "coeff", "a square grid [N, s, s]", f"shape {shape}")
    if mat.shape("sol", "the solutions, a numeric array [N, x, y]") != shape:
        raise key_error(label, "sol", f"the shape of 'coeff', {shape}", f"{mat.shapes['sol']}")
    count = sample_count(label, n, shape[0])
    fitted, stride = fit_grid(problem, shape[1], resolution, label)
    index = (slice(0, count), slice(None, None, stride), slice(None, None, stride))
    source = {
        "keys": {"a": "coeff", "u": "sol"},
        "used": ["coeff", "sol"],
        "native_resolution": shape[1],
        "stride": stride,
        "set_by_file": {},
        "notes": ["grid nodes include both ends, as Darcy2D's; forcing is the problem's"],
    }
    return Imported(fitted, {"a": mat.read("coeff", index)}, {"u": mat.read("sol", index)}, source)


def _navier_stokes(mat: MatFile, problem: Problem, label: str, resolution: Any, n: Any) -> Imported:
    shape = mat.shape("u", "the vorticity snapshots, a numeric array [N, x, y, t]")
    require_rank(label, "u", shape, 4, "[N, x, y, t]")
    if shape[1] != shape[2]:
        raise key_error(label, "u", "a square grid [N, s, s, t]", f"shape {shape}")
    t_in, steps = problem.t_in, shape[3]
    if steps <= t_in:
        raise key_error(
            label, "u", f"more than t_in={t_in} snapshots along the last axis", f"{steps}"
        )
    notes = [
        f"w_in = u[..., :{t_in}], w_out = u[..., {t_in}:], moved to [n, t, x, y]",
        "the initial vorticity (key 'a') is not stored: NavierStokes2D keeps t = 1..T",
        "nu and the forcing are the problem's: the file holds neither",
    ]
    used = ["u"]
    if "t" in mat.shapes:
        times = mat.read("t", (slice(None),) * len(mat.shape("t", "snapshot times"))).ravel()
        if times.size != steps:
            raise key_error(
                label, "t", f"{steps} snapshot times, one per slice of 'u'", f"{times.size}"
            )
        step = uniform_spacing(label, "t", times)
        if abs(step - 1.0) > 1e-6:
            raise key_error(
                label, "t", "snapshots one time unit apart (NavierStokes2D's)", f"spacing {step:g}"
            )
        notes.append(f"snapshot times {times[0]:g} .. {times[-1]:g} (key 't')")
        used.append("t")
    count = sample_count(label, n, shape[0])
    fitted, stride = fit_grid(problem, shape[1], resolution, label, T=steps)
    u = mat.read("u", (slice(0, count), slice(None, None, stride), slice(None, None, stride)))
    w = np.moveaxis(u, -1, 1)
    source = {
        "keys": {"w_in": f"u[..., :{t_in}]", "w_out": f"u[..., {t_in}:]"},
        "used": used,
        "native_resolution": shape[1],
        "stride": stride,
        "set_by_file": {"T": steps},
        "notes": notes,
    }
    inputs = {"w_in": np.ascontiguousarray(w[:, :t_in])}
    return Imported(fitted, inputs, {"w_out": np.ascontiguousarray(w[:, t_in:])}, source)


_READERS = {"burgers": _burgers, "darcy": _darcy, "navier_stokes": _navier_stokes}


def export_fno_mat(
    dataset: Dataset | str | Path,
    path: str | Path,
    *,
    version: str = "5",
    overwrite: bool = False,
) -> Path:
    """Write a pdeml dataset as an FNO-paper ``.mat`` file.

    Parameters
    ----------
    dataset : Dataset or str or Path
        The dataset (or its file).
    path : str or Path
        The ``.mat`` file to write (atomically).
    version : {"5", "7.3"}
        MATLAB file version: ``"5"`` through ``scipy.io.savemat`` (variables under 2 GiB),
        ``"7.3"`` as HDF5 with MATLAB's header and column-major (transposed) arrays.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The file written. Navier–Stokes data are written as ``u`` ``[N, x, y, T]`` and
        ``t = 1..T``; the initial vorticity ``a`` is not part of a pdeml dataset.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    with opened(dataset) as ds:
        problem = ds.problem
        inputs, outputs = stored_fields(ds)
    if problem.name == "burgers":
        if problem.n_t > 0:
            raise ValueError(
                f"{FORMAT}: Burgers files hold a and u only; this dataset also has u_traj "
                f"(n_t={problem.n_t})"
            )
        arrays = {"a": inputs["u0"], "u": outputs["u"]}
    elif problem.name == "darcy":
        arrays = {"coeff": inputs["a"], "sol": outputs["u"]}
    elif problem.name == "navier_stokes":
        w = np.concatenate([inputs["w_in"], outputs["w_out"]], axis=1)
        times = np.arange(1, problem.T + 1, dtype=np.float64)[None, :]
        arrays = {"u": np.ascontiguousarray(np.moveaxis(w, 1, -1)), "t": times}
    else:
        raise unsupported(FORMAT, problem, _READERS)
    with atomic_output(path, overwrite) as tmp:
        if version == "5":
            from scipy.io import savemat

            with open(tmp, "wb") as handle:
                savemat(handle, arrays, format="5")
        else:
            _write_v73(tmp, arrays)
    return Path(path)


def _write_v73(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            data = f.create_dataset(key, data=np.ascontiguousarray(np.transpose(value)))
            data.attrs["MATLAB_class"] = np.bytes_(
                "single" if value.dtype == np.float32 else "double"
            )
    # MATLAB recognises a v7.3 file by this 128-byte header in the HDF5 user block.
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%a %b %d %H:%M:%S %Y")
    text = f"MATLAB 7.3 MAT-file, Platform: pdeml, Created on: {created} HDF5 schema 1.00 ."
    header = text.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as handle:
        handle.write(header)
