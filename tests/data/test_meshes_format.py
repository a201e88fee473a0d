"""The ``meshes`` format: a folder of mesh files in and out of a pdeml dataset."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

from pdeml.cli import main
from pdeml.data.arrays import from_arrays
from pdeml.data.formats import export_dataset, import_dataset, read_foreign
from pdeml.mesh import mesh_disk, write_sample
from pdeml.problems import DarcyMesh


@pytest.fixture(scope="module")
def problem() -> DarcyMesh:
    return DarcyMesh(mesh_size=0.3, max_nodes=96, max_triangles=192)


@pytest.fixture(scope="module")
def arrays(problem):
    inputs = problem.sample_inputs(3, seed=7)
    return {**inputs, **problem.reference_solver().solve(inputs)}


def write_folder(folder, arrays, ext=".vtu"):
    folder.mkdir()
    for i in range(len(arrays["n_nodes"])):
        write_sample(arrays, i, folder / f"s{i:02d}{ext}")
    return folder


@pytest.mark.parametrize("ext", [".vtu", ".xdmf", ".msh"])
def test_folder_import_reproduces_the_arrays(tmp_path, problem, arrays, ext):
    folder = write_folder(tmp_path / "meshes", arrays, ext)
    ds = import_dataset(folder, "meshes", problem, path=tmp_path / "m.h5", dtype="float64")
    assert ds.problem == problem
    for key, value in {**ds.inputs, **ds.outputs}.items():
        assert np.array_equal(value, arrays[key]), key
    assert ds.attrs["source"]["format"] == "meshes"
    ds.close()


def test_export_then_import_is_unchanged(tmp_path, problem, arrays):
    ds = from_arrays(
        problem,
        {k: arrays[k] for k in problem.input_names},
        {k: arrays[k] for k in problem.output_names},
        path=tmp_path / "a.h5",
        dtype="float64",
    )
    out = export_dataset(ds, "meshes", tmp_path / "exported")
    assert sorted(p.name for p in out.iterdir()) == [f"sample_{i:06d}.vtu" for i in range(3)]
    back = import_dataset(out, "meshes", problem, path=tmp_path / "b.h5", dtype="float64")
    for key in problem.field_names:
        assert np.array_equal(back.xr[key].values, ds.xr[key].values), key
    back.close()
    ds.close()


def test_own_meshes_missing_qoi_are_computed_and_sizes_grow(tmp_path, problem):
    # A user's mesh larger than max_nodes, without the scalar outputs.
    nodes, triangles = mesh_disk(0.12)
    u = 1.0 - nodes[:, 0] ** 2
    folder = tmp_path / "own"
    folder.mkdir()
    point_data = {
        "u": u,
        "source": np.full(len(nodes), 1.5),
        "boundary_value": np.zeros(len(nodes)),
    }
    meshio.write(folder / "a.vtu", meshio.Mesh(nodes, [("triangle", triangles)], point_data))
    imported = read_foreign(folder, "meshes", problem)
    assert imported.problem.max_nodes == len(nodes) > problem.max_nodes
    assert imported.source["set_by_file"]["max_nodes"] == len(nodes)
    expected = problem.quantities(nodes, triangles, u)
    assert imported.outputs["u_mean"][0] == pytest.approx(expected[0], rel=1e-14)
    assert imported.outputs["u_neumann_mean"][0] == pytest.approx(expected[1], rel=1e-14)
    assert any("computed from u" in note for note in imported.source["notes"])


def test_bad_folders_give_one_line_errors(tmp_path, problem, arrays):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_foreign(tmp_path / "none", "meshes", problem)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no mesh files"):
        read_foreign(tmp_path / "empty", "meshes", problem)
    nodes, triangles = mesh_disk(0.5)
    folder = tmp_path / "nou"
    folder.mkdir()
    meshio.write(
        folder / "a.vtu",
        meshio.Mesh(nodes, [("triangle", triangles)], {"v": np.ones(len(nodes))}),
    )
    with pytest.raises(ValueError, match=r"a\.vtu.*key 'u'"):
        read_foreign(folder, "meshes", problem)
    varying = {"u": np.ones(len(nodes)), "source": nodes[:, 0], "boundary_value": nodes[:, 0]}
    meshio.write(folder / "a.vtu", meshio.Mesh(nodes, [("triangle", triangles)], varying))
    with pytest.raises(ValueError, match=r"key 'source'.*scalar"):
        read_foreign(folder, "meshes", problem)
    with pytest.raises(ValueError, match="no resolution"):
        read_foreign(folder, "meshes", problem, resolution=32)
    with pytest.raises(ValueError, match="not on meshes"):
        read_foreign(folder, "meshes", "darcy")


def test_cli_import_and_info(tmp_path, arrays, capsys):
    folder = write_folder(tmp_path / "cli", arrays, ".xdmf")
    out = tmp_path / "x.h5"
    code = main(
        ["import", str(folder), "--format", "meshes", "--problem", "darcy_mesh", "--out", str(out)]
    )
    assert code == 0
    assert "3 samples of darcy_mesh on meshes" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    assert "triangles" in capsys.readouterr().out
    code = main(
        [
            "import",
            str(tmp_path / "nothing"),
            "--format",
            "meshes",
            "--problem",
            "darcy_mesh",
            "--out",
            str(tmp_path / "y.h5"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("pdeml: error:") and err.count("\n") == 1
    assert not (tmp_path / "y.h5").exists()
