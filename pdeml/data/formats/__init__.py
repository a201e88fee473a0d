"""Foreign file layouts: read them into pdeml datasets, and write pdeml datasets as them.

=============== ======================================== ==============================
format          files                                    problems
=============== ======================================== ==============================
``fno-mat``     FNO paper ``.mat`` (MATLAB v5 or v7.3)    burgers, darcy, navier_stokes
``pdebench``    PDEBench ``.hdf5``                        burgers, darcy
``neuralop-pt`` neuraloperator ``.pt`` (``x``, ``y``)     any with one input, one output
``arrays``      ``.npz`` keyed by field name              any
``meshes``      a folder of meshio files (one per sample) darcy_mesh
=============== ======================================== ==============================

:func:`import_dataset` reads a file onto a problem (a preset or a :class:`Problem`) and
writes a regular pdeml dataset recording its source; :func:`export_dataset` goes the other
way. The readers (``read_*``) return an :class:`Imported` without writing anything.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pdeml.data.dataset import Dataset
from pdeml.data.formats._common import Imported, close, file_label, verify
from pdeml.data.formats.fno_mat import export_fno_mat, read_fno_mat
from pdeml.data.formats.meshes import export_meshes, read_meshes
from pdeml.data.formats.neuralop import export_neuralop_pt, read_neuralop_pt
from pdeml.data.formats.npz import export_arrays, read_arrays
from pdeml.data.formats.pdebench import export_pdebench, read_pdebench
from pdeml.problems.base import Problem

READERS: dict[str, Callable[..., Imported]] = {
    "fno-mat": read_fno_mat,
    "pdebench": read_pdebench,
    "neuralop-pt": read_neuralop_pt,
    "arrays": read_arrays,
    "meshes": read_meshes,
}
EXPORTERS: dict[str, Callable[..., Path]] = {
    "fno-mat": export_fno_mat,
    "pdebench": export_pdebench,
    "neuralop-pt": export_neuralop_pt,
    "arrays": export_arrays,
    "meshes": export_meshes,
}
FORMATS = tuple(READERS)


def _check_format(format: str, where: str) -> str:
    if format not in READERS:
        raise ValueError(
            f"{where}: unknown format {format!r}; expected one of {', '.join(FORMATS)}"
        )
    return format


def resolve_problem(
    problem: Problem | str | Path, size: str = "quick", overrides: Mapping[str, Any] | None = None
) -> Problem:
    """A :class:`Problem` from an instance or a preset (name or TOML file) and overrides."""
    overrides = dict(overrides or {})
    if isinstance(problem, Problem):
        return problem.replace(**overrides) if overrides else problem
    if isinstance(problem, (str, Path)):
        from pdeml.problems.presets import load_problem

        return load_problem(problem, size=size, **overrides)
    raise TypeError(
        f"problem: expected a Problem or a preset name or file, got {type(problem).__name__}"
    )


def read_foreign(
    source: str | Path,
    format: str,
    problem: Problem | str | Path,
    *,
    size: str = "quick",
    resolution: int | None = None,
    n: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    target_index: int | None = None,
    target_time: float | None = None,
) -> Imported:
    """Read a foreign file onto a problem without writing anything.

    Parameters
    ----------
    source : str or Path
        The file to read.
    format : {"fno-mat", "pdebench", "neuralop-pt", "arrays", "meshes"}
        Its layout (``"meshes"``: ``source`` is a folder of mesh files).
    problem : Problem or str or Path
        What the data are: a problem, or a preset (built-in name or TOML file).
    size : str
        Size of the preset (ignored for a :class:`Problem`).
    resolution : int, optional
        Store a coarser grid, taken by striding (default: the file's grid). An override
        ``resolution=R`` means the same.
    n : int, optional
        Read only the first ``n`` samples.
    overrides : dict, optional
        Problem parameters replacing the preset's. A parameter that the file decides
        (listed in ``source["set_by_file"]``, e.g. PDEBench's ``nu``) must agree with it.
    target_index, target_time : int or float, optional
        Which stored snapshot becomes the output, by index or by time (formats holding a
        trajectory of which the problem keeps one time: ``pdebench`` Burgers); default: the
        last one. See :func:`pdeml.data.formats.pdebench.read_pdebench`.

    Returns
    -------
    Imported
        The fitted problem, its fields (checked) and the provenance record.
    """
    _check_format(format, repr(str(source)))
    overrides = dict(overrides or {})
    if "resolution" in overrides:
        given = overrides.pop("resolution")
        if resolution is not None and given != resolution:
            raise ValueError(f"resolution: given twice, as {resolution} and {given}")
        resolution = given
    options = {"target_index": target_index, "target_time": target_time}
    options = {key: value for key, value in options.items() if value is not None}
    for key in options:
        takers = [f for f, r in READERS.items() if key in inspect.signature(r).parameters]
        if format not in takers:
            raise ValueError(
                f"{key}: the {format} format has no snapshots to choose from; expected it "
                f"only with format {' or '.join(takers)}"
            )
    base = resolve_problem(problem, size, overrides)
    imported = READERS[format](source, base, resolution=resolution, n=n, **options)
    label = file_label(format, source)
    decided = imported.source.get("set_by_file", {})
    for key, value in overrides.items():
        if key in decided and not _agree(value, decided[key]):
            raise ValueError(
                f"{label}: {key}={value!r} was asked for, but the file sets "
                f"{key}={decided[key]!r}; leave {key} out"
            )
    return verify(label, imported)


def _agree(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return close(a, b)
    return a == b


def import_dataset(
    source: str | Path,
    format: str,
    problem: Problem | str | Path,
    *,
    path: str | Path,
    size: str = "quick",
    resolution: int | None = None,
    n: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
    target_index: int | None = None,
    target_time: float | None = None,
) -> Dataset:
    """Read a foreign file onto a problem and write it as a pdeml dataset.

    The arguments are those of :func:`read_foreign`, plus:

    Parameters
    ----------
    path : str or Path
        The ``.h5`` dataset to write (atomically: nothing is left if anything fails).
    dtype : {"float32", "float64"}
        Storage type of the fields.
    overwrite : bool
        Replace an existing dataset.

    Returns
    -------
    Dataset
        The new dataset; ``ds.attrs["source"]`` records the file, format, keys and notes.
    """
    from pdeml.data.arrays import from_arrays
    from pdeml.data.store import check_output_path

    _check_format(format, repr(str(source)))
    path = check_output_path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass overwrite=True to replace it")
    if Path(source).exists() and path.exists() and path.resolve() == Path(source).resolve():
        raise ValueError(f"{str(path)!r}: the dataset would overwrite the file it is read from")
    imported = read_foreign(
        source,
        format,
        problem,
        size=size,
        resolution=resolution,
        n=n,
        overrides=overrides,
        target_index=target_index,
        target_time=target_time,
    )
    return from_arrays(
        imported.problem,
        imported.inputs,
        imported.outputs,
        attrs={"source": imported.source},
        path=path,
        dtype=dtype,
        overwrite=overwrite,
    )


def export_dataset(
    dataset: Dataset | str | Path,
    format: str,
    path: str | Path,
    *,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Write a pdeml dataset in a foreign layout (``options`` go to the exporter)."""
    _check_format(format, repr(str(path)))
    return EXPORTERS[format](dataset, path, overwrite=overwrite, **options)


__all__ = [
    "EXPORTERS",
    "FORMATS",
    "READERS",
    "Imported",
    "export_arrays",
    "export_dataset",
    "export_fno_mat",
    "export_meshes",
    "export_neuralop_pt",
    "export_pdebench",
    "import_dataset",
    "read_arrays",
    "read_fno_mat",
    "read_foreign",
    "read_meshes",
    "read_neuralop_pt",
    "read_pdebench",
    "resolve_problem",
]
