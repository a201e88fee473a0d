"""Mesh file round trips (meshio), boundary loops and mesh helpers."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

from pdeml.mesh import (
    boundary_edges,
    boundary_loop,
    mesh_disk,
    mesh_rectangle,
    orient_ccw,
    pad_mesh,
    read_mesh,
    signed_areas,
    trim_mesh,
    write_sample,
)
from pdeml.mesh.io import read_sample, write_mesh
from pdeml.problems import DarcyMesh


@pytest.fixture(scope="module")
def solved():
    problem = DarcyMesh(mesh_size=0.3, max_nodes=96, max_triangles=192)
    inputs = problem.sample_inputs(2, seed=4)
    return problem, {**inputs, **problem.reference_solver().solve(inputs)}


@pytest.mark.parametrize("ext", [".vtu", ".xdmf", ".msh"])
def test_sample_round_trip_keeps_nodes_cells_and_fields(tmp_path, solved, ext):
    problem, arrays = solved
    path = write_sample(arrays, 1, tmp_path / f"s{ext}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"s{ext}"]  # no temporary left
    nodes, triangles, point_data = read_mesh(path)
    expected_nodes, expected_triangles = problem.sample_mesh(arrays, 1)
    m = len(expected_nodes)
    assert np.array_equal(nodes, expected_nodes)  # bit for bit, float64
    assert np.array_equal(triangles, expected_triangles)
    assert np.array_equal(point_data["u"], arrays["u"][1, :m])
    for key in ("source", "boundary_value", "u_mean", "u_neumann_mean"):
        assert np.all(point_data[key] == arrays[key][1])  # scalars as constant arrays


def test_dataset_sample_can_be_written(tmp_path, solved):
    from pdeml.data.arrays import from_arrays

    problem, arrays = solved
    ds = from_arrays(
        problem,
        {k: arrays[k] for k in problem.input_names},
        {k: arrays[k] for k in problem.output_names},
        path=tmp_path / "d.h5",
        dtype="float64",
    )
    write_sample(ds, 0, tmp_path / "d0.vtu")
    nodes, _, point_data = read_mesh(tmp_path / "d0.vtu")
    assert np.array_equal(nodes, problem.sample_mesh(arrays, 0)[0])
    assert np.array_equal(point_data["u"], arrays["u"][0, : len(nodes)])
    with pytest.raises(ValueError, match="sample index"):
        write_sample(ds, 5, tmp_path / "x.vtu")
    ds.close()


def test_reading_fixes_orientation_and_drops_unused_nodes(tmp_path):
    points = np.array([[0.0, 0, 0], [9, 9, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    cells = [("triangle", np.array([[0, 3, 2], [2, 3, 4]])), ("line", np.array([[0, 2]]))]
    u = np.arange(5.0)
    meshio.write(tmp_path / "m.vtu", meshio.Mesh(points, cells, point_data={"u": u}))
    nodes, triangles, point_data = read_mesh(tmp_path / "m.vtu")
    assert np.array_equal(nodes, points[[0, 2, 3, 4], :2])
    assert np.all(signed_areas(nodes, triangles) > 0)
    assert np.array_equal(point_data["u"], u[[0, 2, 3, 4]])


def test_bad_files_give_one_line_errors(tmp_path):
    points = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    meshio.write(tmp_path / "q.vtu", meshio.Mesh(points, [("quad", np.array([[0, 1, 3, 2]]))]))
    with pytest.raises(ValueError, match=r"q\.vtu.*'quad'.*triangles only"):
        read_mesh(tmp_path / "q.vtu")
    tri = [("triangle", np.array([[0, 1, 2]]))]
    meshio.write(
        tmp_path / "n.vtu",
        meshio.Mesh(points[:3], tri, point_data={"u": np.array([0.0, np.nan, 1.0])}),
    )
    with pytest.raises(ValueError, match=r"n\.vtu.*'u'.*NaN"):
        read_mesh(tmp_path / "n.vtu")
    lifted = points[:3].copy()
    lifted[0, 2] = 1.0
    meshio.write(tmp_path / "z.vtu", meshio.Mesh(lifted, tri))
    with pytest.raises(ValueError, match="z != 0"):
        read_mesh(tmp_path / "z.vtu")
    (tmp_path / "junk.vtu").write_text("not a mesh")
    with pytest.raises(ValueError, match=r"junk\.vtu.*not readable"):
        read_sample(tmp_path / "junk.vtu")
    with pytest.raises(FileNotFoundError):
        read_mesh(tmp_path / "missing.vtu")
    with pytest.raises(ValueError, match="extension"):
        write_mesh(tmp_path / "a.obj", points[:3, :2], np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="one per node"):
        write_mesh(tmp_path / "a.vtu", points[:3, :2], np.array([[0, 1, 2]]), {"u": np.ones(2)})
    assert not (tmp_path / "a.vtu").exists()


def test_boundary_loop_is_ordered_counter_clockwise():
    nodes, triangles = mesh_disk(0.2)
    rng = np.random.default_rng(0)
    shuffled = triangles[rng.permutation(len(triangles))]  # order of triangles is irrelevant
    loop = boundary_loop(shuffled)
    assert loop[0] == loop.min()
    on_circle = np.isclose(np.hypot(*nodes.T), 1.0, atol=1e-12)
    assert set(loop) == set(np.flatnonzero(on_circle))
    angles = np.unwrap(np.arctan2(nodes[loop, 1], nodes[loop, 0]))
    assert np.all(np.diff(angles) > 0)  # strictly counter-clockwise
    assert angles[-1] - angles[0] == pytest.approx(2 * np.pi, abs=0.5)
    padded = pad_mesh(nodes, triangles, len(nodes) + 5, len(triangles) + 7)[1]
    assert np.array_equal(boundary_loop(padded), boundary_loop(triangles))  # -1 rows ignored


def test_boundary_loop_refuses_holes_and_mixed_orientation():
    nodes, triangles = mesh_rectangle(0.25)
    centroids = nodes[triangles].mean(axis=1)
    hole = np.all(np.abs(centroids - 0.5) < 0.2, axis=1)
    with pytest.raises(ValueError, match="one closed loop"):
        boundary_loop(triangles[~hole])
    # A clockwise triangle on the boundary reverses one boundary edge.
    mixed = triangles.copy()
    edge = boundary_edges(triangles)[0]
    first = int(np.flatnonzero(np.isin(mixed, edge).sum(axis=1) == 2)[0])
    mixed[first] = mixed[first, ::-1]
    with pytest.raises(ValueError, match="triangles"):
        boundary_loop(mixed)


def test_orient_pad_trim_helpers():
    nodes, triangles = mesh_rectangle(0.5)
    flipped = triangles.copy()
    flipped[::2] = flipped[::2, ::-1]
    fixed, count = orient_ccw(nodes, flipped)
    assert count == len(triangles[::2]) and np.all(signed_areas(nodes, fixed) > 0)
    padded_nodes, padded_triangles = pad_mesh(nodes, triangles, 40, 80)
    back = trim_mesh(padded_nodes, padded_triangles, len(nodes), len(triangles))
    assert np.array_equal(back[0], nodes) and np.array_equal(back[1], triangles)
    with pytest.raises(ValueError, match="max_nodes"):
        pad_mesh(nodes, triangles, 3, 80)
