"""Datasets: generation with reference solvers, the HDF5 layout, xarray and torch views."""

from pdeml.data.arrays import from_arrays
from pdeml.data.dataset import Dataset, TorchFieldDataset, open_dataset
from pdeml.data.generation import generate
from pdeml.data.store import write_dataset

__all__ = [
    "Dataset",
    "TorchFieldDataset",
    "from_arrays",
    "generate",
    "open_dataset",
    "write_dataset",
]
