"""Reading datasets: a lazy xarray view, train/test splits and a torch adapter."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import nonfinite_samples
from pdeml.data.store import SAMPLE_DIM, read_attrs
from pdeml.problems.base import Problem

if TYPE_CHECKING:
    import torch
    import xarray as xr


#: Bytes of one field read at a time by :meth:`Dataset.check_finite`.
CHECK_BLOCK_BYTES = 64 * 2**20


class Dataset:
    """A set of input/output samples of one problem, backed by a lazy ``xarray.Dataset``.

    Obtain one from :func:`open_dataset` or :func:`pdeml.generate`. Subsets made by
    :meth:`split` or :meth:`subset` stay lazy views of the same file.

    It acts like the ``xarray.Dataset`` it wraps: attributes it does not define itself
    (``ds.data_vars``, ``ds.sizes``, ``ds.sel``, ...) are those of :attr:`xr`; note that
    ``ds.attrs`` is pdeml's decoded provenance, not ``ds.xr.attrs``.

    Attributes
    ----------
    xr : xarray.Dataset
        The lazy view: one variable per field with dimensions ``(sample, ...)``.
    problem : Problem
        The problem the data belong to, rebuilt from the file's attributes.
    attrs : dict
        Provenance: solver, seed, pdeml version, creation time, generation time.
    """

    def __init__(
        self,
        xr_dataset: xr.Dataset,
        problem: Problem,
        attrs: dict[str, Any],
        path: Path | None = None,
    ) -> None:
        self.xr = xr_dataset
        self.problem = problem
        self.attrs = attrs
        self.path = path

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: forward public names to the xarray view,
        # so that code written for the ``xarray.Dataset`` the docs describe works.
        # Private names (and ``xr`` itself, while unpickling) are never forwarded.
        if name.startswith("_") or name == "xr" or "xr" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        try:
            return getattr(self.__dict__["xr"], name)
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__!r} object (and its xarray view) has no attribute {name!r}"
            ) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {n for n in dir(self.xr) if not n.startswith("_")})

    # -- views --------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.xr.sizes[SAMPLE_DIM])

    def __getitem__(self, name: str) -> xr.DataArray:
        return self.xr[name]

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<pdeml.Dataset {self.problem.name}, {len(self)} samples{where}>\n{self.xr!r}"

    @property
    def input_names(self) -> tuple[str, ...]:
        return self.problem.input_names

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.problem.output_names

    @property
    def inputs(self) -> dict[str, np.ndarray]:
        """Input fields loaded into memory as float64 arrays (int64 for integer fields such
        as mesh triangles), sample axis first."""
        return self._load(self.input_names)

    @property
    def outputs(self) -> dict[str, np.ndarray]:
        """Output fields loaded into memory as float64 arrays, sample axis first."""
        return self._load(self.output_names)

    def _load(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        # Integer fields (mesh triangles, counts) keep an integer type.
        return {k: _as_loaded(self.xr[k].values) for k in names}

    def subset(self, indices: Sequence[int] | np.ndarray | slice) -> Dataset:
        """The samples at ``indices`` (positions in this dataset), still lazy."""
        if isinstance(indices, slice):
            selection = indices
        else:
            raw = np.asarray(indices)
            if raw.dtype == bool or (raw.size and raw.dtype.kind not in "iu"):
                raise TypeError(
                    f"indices: expected integer positions in [0, {len(self)}), got {indices!r}"
                )
            selection = raw.astype(np.int64)
            if selection.ndim != 1 or (
                selection.size and (selection.min() < -len(self) or selection.max() >= len(self))
            ):
                raise ValueError(
                    f"indices: expected a 1D sequence of positions in [0, {len(self)}), "
                    f"got {indices!r}"
                )
        return Dataset(self.xr.isel({SAMPLE_DIM: selection}), self.problem, self.attrs, self.path)

    def split(
        self,
        n_test: int | None = None,
        *,
        test_fraction: float | None = None,
        shuffle: bool = False,
        seed: int = 0,
    ) -> tuple[Dataset, Dataset]:
        """Split into ``(train, test)``.

        By default the last ``n_test`` samples are the test set, as in the FNO paper's
        data (train on the first N, test on the last). Give either ``n_test`` or
        ``test_fraction``; ``shuffle=True`` permutes with ``seed`` first.
        """
        n = len(self)
        if n < 2:
            raise ValueError(
                f"split: a dataset of {n} sample{'s' if n != 1 else ''} cannot be split into "
                f"train and test (n_test={n_test!r}, test_fraction={test_fraction!r}); "
                "generate or import at least 2 samples"
            )
        if (n_test is None) == (test_fraction is None):
            raise ValueError("split: give exactly one of n_test or test_fraction")
        if test_fraction is not None:
            if not 0.0 < test_fraction < 1.0:
                raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
            n_test = max(1, round(n * test_fraction))
        if (
            isinstance(n_test, bool)
            or not isinstance(n_test, (int, np.integer))
            or not (0 < n_test < n)
        ):
            raise ValueError(
                f"n_test must be an integer in [1, {n - 1}] for a dataset of {n} samples, "
                f"got {n_test!r}"
            )
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        return self.subset(order[: n - n_test]), self.subset(order[n - n_test :])

    def torch(
        self,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        dtype: Any = None,
    ) -> TorchFieldDataset:
        """A ``torch.utils.data.Dataset`` of ``(x, y)`` pairs with channels stacked.

        Parameters
        ----------
        inputs, outputs : list of str, optional
            Fields to stack as channels (default: all inputs / all outputs). Stacked
            fields must share one shape.
        dtype : torch.dtype, optional
            Tensor type (default ``torch.float32``).
        """
        return TorchFieldDataset(self, inputs, outputs, dtype)

    def check_finite(self) -> None:
        """Check that every float field holds only finite values (no NaN, no infinity).

        The file is read field by field in blocks of samples (about
        :data:`CHECK_BLOCK_BYTES` at a time), so memory stays bounded whatever the file's
        size; the cost is one read of the data. :func:`open_dataset` stays lazy and does
        not call this; call it before a long training on data of unknown origin.

        Raises
        ------
        ValueError
            Naming the file, the field and the position of the first sample holding a
            NaN or infinite value.
        """
        n = len(self)
        where = f"dataset {str(self.path)!r}" if self.path else "dataset"
        for name in self.problem.field_names:
            var = self.xr[name]
            if np.dtype(var.dtype).kind not in "fc":
                continue  # integers (mesh triangles, counts) cannot hold NaN
            per_sample = max(1, int(np.prod(var.shape[1:])) * np.dtype(var.dtype).itemsize)
            block = max(1, CHECK_BLOCK_BYTES // per_sample)
            for begin in range(0, n, block):
                values = np.asarray(var.isel({SAMPLE_DIM: slice(begin, begin + block)}).values)
                found = nonfinite_samples(values)
                if found is not None:
                    first = begin + found[1]
                    raise ValueError(
                        f"{where}: field {name!r} holds NaN or infinite values, the first in "
                        f"sample {first} (of {n}); expected finite values"
                    )

    def close(self) -> None:
        """Close the underlying file."""
        self.xr.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_loaded(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(np.int64) if values.dtype.kind in "iu" else values.astype(np.float64)


def _stack(fields: dict[str, np.ndarray], names: Sequence[str], argument: str) -> np.ndarray:
    shapes = {k: fields[k].shape for k in names}
    if len(set(shapes.values())) != 1:
        raise ValueError(
            f"{argument}: fields stacked as channels must share one shape, got {shapes}; "
            f"choose fields with {argument}=[...]"
        )
    return np.stack([fields[k] for k in names], axis=1)


class TorchFieldDataset:
    """In-memory torch dataset: item ``i`` is ``(x[i], y[i])``, shapes ``[c, *space]``."""

    def __init__(
        self,
        dataset: Dataset,
        inputs: Sequence[str] | None,
        outputs: Sequence[str] | None,
        dtype: Any = None,
    ) -> None:
        import torch

        self.input_names = tuple(inputs or dataset.input_names)
        self.output_names = tuple(outputs or dataset.output_names)
        for argument, names, known in (
            ("inputs", self.input_names, dataset.input_names),
            ("outputs", self.output_names, dataset.output_names),
        ):
            unknown = [k for k in names if k not in known]
            if unknown:
                raise ValueError(f"{argument}: unknown fields {unknown}; expected some of {known}")
        dtype = torch.float32 if dtype is None else dtype
        x = _stack(dataset._load(self.input_names), self.input_names, "inputs")
        y = _stack(dataset._load(self.output_names), self.output_names, "outputs")
        self.x = torch.as_tensor(x, dtype=dtype)
        self.y = torch.as_tensor(y, dtype=dtype)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


def open_dataset(path: str | Path) -> Dataset:
    """Open a pdeml dataset file lazily.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`pdeml.generate` (or any pdeml writer).

    Returns
    -------
    Dataset
        With ``.xr`` the lazy ``xarray.Dataset``, ``.problem``, ``.attrs``, ``.split``,
        ``.torch``, ``.check_finite``; other attributes (``.data_vars``, ``.sizes``,
        ``.sel``, ...) are forwarded to ``.xr``.

    Opening is lazy: no field is read. Values are not scanned for NaN or infinity here
    (that reads the whole file); call :meth:`Dataset.check_finite` for that.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    IsADirectoryError
        If ``path`` is a folder.
    ValueError
        If the file is not a readable HDF5 file, lacks pdeml's attributes, holds a damaged
        ``pdeml_problem`` attribute, or holds arrays whose shapes disagree with the
        recorded problem (the message names the file, the attribute or field, and the
        expected and found shapes).
    """
    import xarray as xr

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path: expected the file name of a pdeml dataset (str or Path), got {path!r}"
        )
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"dataset {str(path)!r}: is a folder; expected a pdeml dataset file (.h5)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"dataset {str(path)!r}: no such file")
    try:
        view = xr.open_dataset(path, engine="h5netcdf", phony_dims="sort")
    except Exception as error:  # h5py/h5netcdf raise several types for damaged files
        raise ValueError(
            f"dataset {str(path)!r}: not a readable HDF5/netCDF file ({type(error).__name__}: "
            f"{error})"
        ) from None
    try:
        return _wrap(view, path)
    except BaseException:
        view.close()
        raise


def _wrap(view: xr.Dataset, path: Path) -> Dataset:
    """Check a freshly opened view against its recorded problem and wrap it."""
    label = f"dataset {str(path)!r}"
    attrs = read_attrs(view.attrs)
    if "problem" not in attrs:
        raise ValueError(f"{label}: not a pdeml dataset (no 'pdeml_problem' attribute)")
    record = attrs["problem"]
    if not isinstance(record, dict):
        raise ValueError(
            f"{label}: attribute 'pdeml_problem' is damaged: expected a JSON object naming "
            f"the problem and its parameters, got {str(record)[:80]!r}"
        )
    try:
        problem = Problem.from_dict(record)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(
            f"{label}: attribute 'pdeml_problem' does not describe a valid problem ({error})"
        ) from None
    missing = [k for k in problem.field_names if k not in view.variables]
    if missing:
        raise ValueError(f"{label}: missing field variables {missing}")
    for name in problem.field_names:
        var = view[name]
        expected_dims = (SAMPLE_DIM, *problem.field_dims(name))
        expected = problem.field_shape(name)
        if tuple(var.dims) != expected_dims or tuple(var.shape[1:]) != expected:
            raise ValueError(
                f"{label}: field {name!r} has dimensions {tuple(var.dims)} of shape "
                f"{tuple(var.shape)}, but the recorded problem ({problem.name}, resolution "
                f"{problem.resolution}) expects {expected_dims} of shape (n, "
                f"{', '.join(map(str, expected))}); the file's 'pdeml_problem' attribute "
                "and its arrays disagree"
            )
    return Dataset(view, problem, attrs, path)
