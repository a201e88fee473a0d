"""Generation on a dask.distributed cluster: same file as locally, killed workers and
clients, unreachable schedulers, workers that do not share the output folder.

One LocalCluster of 2 worker processes serves the whole file (starting one takes seconds).
"""

import os
import socket
import sys
import time
import types
import uuid

import cloudpickle
import numpy as np
import pytest

import pdeml
from pdeml import _dask
from pdeml.cli import main
from pdeml.data.distributed import solve_on_worker
from pdeml.data.generation import partial_dir
from pdeml.problems import Burgers1D

distributed = pytest.importorskip("distributed")

N, SEED, CHUNK = 24, 5, 2


@pytest.fixture(scope="module")
def problem():
    return Burgers1D(resolution=32, solver_resolution=64)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    _dask.close_quietly(client, cluster)


@pytest.fixture(scope="module")
def local(problem, tmp_path_factory):
    """The same set generated in this process: what every cluster run must reproduce."""
    path = tmp_path_factory.mktemp("local") / "local.h5"
    ds = pdeml.generate(problem, N, SEED, path, workers=1, chunk_size=CHUNK, progress=False)
    fields = {name: ds.xr[name].values for name in problem.field_names}
    ds.close()
    return fields


def assert_same(ds, local):
    for name, values in local.items():
        np.testing.assert_array_equal(ds.xr[name].values, values)  # bitwise


def free_port():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_same_file_as_local_generation(tmp_path, problem, client, local):
    path = tmp_path / "c.h5"
    address = client.scheduler.address
    ds = pdeml.generate(problem, N, SEED, path, scheduler=address, chunk_size=CHUNK, progress=False)
    assert_same(ds, local)
    assert 1 <= ds.attrs["workers"] <= 2 and len(ds) == N
    ds.close()
    assert not partial_dir(path).exists()  # chunk and staging folders are gone


class KillOnSecondTask(distributed.WorkerPlugin):
    """Kill the first worker that starts its second chunk, once: a chunk is lost mid-run."""

    def __init__(self, marker):
        self.marker, self.started = marker, 0

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("pdeml-generate"):
            self.started += 1
            if self.started == 2:
                try:  # exclusive creation: only one kill, even after the nanny restarts it
                    os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    return
                os._exit(1)


def test_killed_worker_loses_nothing(tmp_path, problem, client, local):
    # The plugin travels to the workers by value: they cannot import this test module.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "killed"
    name = f"kill-{uuid.uuid4().hex}"
    try:
        client.register_plugin(KillOnSecondTask(str(marker)), name=name)
        ds = pdeml.generate(
            problem, N, SEED, tmp_path / "k.h5", scheduler=client, chunk_size=CHUNK, progress=False
        )
    finally:
        client.unregister_worker_plugin(name)
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert marker.exists()  # a worker died while it held a chunk
    assert_same(ds, local)  # which Dask gave to another worker: nothing lost
    ds.close()


class StopAfter:
    """A progress bar that stands for Ctrl-C after ``k`` chunks, and counts the samples."""

    def __init__(self, k):
        self.k, self.updates, self.initial = k, [], None

    def __call__(self, *args, initial=0, **kwargs):
        self.initial = initial
        return self

    def update(self, samples):
        self.updates.append(samples)
        if len(self.updates) == self.k:
            raise KeyboardInterrupt

    def set_postfix_str(self, text):
        pass

    def close(self):
        pass


def test_killed_client_resumes_with_the_missing_chunks(
    tmp_path, problem, client, local, monkeypatch
):
    import tqdm.auto

    path = tmp_path / "r.h5"
    monkeypatch.setattr(tqdm.auto, "tqdm", StopAfter(3))
    with pytest.raises(KeyboardInterrupt, match="resume"):
        pdeml.generate(problem, N, SEED, path, scheduler=client, chunk_size=CHUNK)
    assert not path.exists()
    # Chunks still running on the workers finish there and land in the folder; let them.
    deadline = time.monotonic() + 20
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    rerun = StopAfter(0)
    monkeypatch.setattr(tqdm.auto, "tqdm", rerun)
    ds = pdeml.generate(problem, N, SEED, path, scheduler=client, chunk_size=CHUNK)
    assert rerun.initial >= 3 * CHUNK  # the finished chunks were reused ...
    assert sum(rerun.updates) == N - rerun.initial  # ... and only the others solved
    assert_same(ds, local)
    ds.close()


def test_unreachable_scheduler_is_one_line_fast(tmp_path, problem, monkeypatch, capsys):
    monkeypatch.setattr(_dask, "SCHEDULER_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    begin = time.monotonic()
    with pytest.raises(ValueError, match=rf"scheduler '{address}'.*no Dask.*--scheduler"):
        pdeml.generate(problem, 4, 0, tmp_path / "u.h5", scheduler=address, progress=False)
    assert time.monotonic() - begin < 6  # distributed's own default waits 30 s
    assert not any(tmp_path.iterdir())  # found before anything was written
    out = tmp_path / "cli.h5"
    argv = ["generate", "burgers", "--n", "4", "--out", str(out), "--scheduler", address]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pdeml: error: scheduler") and "--scheduler" in err
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scheduler": "foo bar"}, ValueError, "scheduler: expected an address"),
        ({"scheduler": 8786}, TypeError, "scheduler: expected an address"),
        ({"scheduler": "tcp://127.0.0.1:8786", "workers": 2}, ValueError, "workers: not used"),
    ],
)
def test_bad_scheduler_arguments_are_named(tmp_path, problem, kwargs, error, match):
    with pytest.raises(error, match=match):
        pdeml.generate(problem, 4, 0, tmp_path / "b.h5", progress=False, **kwargs)
    assert not any(tmp_path.iterdir())


def test_cli_generates_on_the_cluster(tmp_path, client, capsys):
    out = tmp_path / "cli.h5"
    argv = ["generate", "burgers", "--n", "4", "--resolution", "32", "--out", str(out)]
    argv += ["--set", "solver_resolution=64", "--scheduler", client.scheduler.address, "--quiet"]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out and out.is_file()


def test_worker_that_does_not_see_the_folder_is_named(tmp_path, client):
    # As on a worker whose machine does not mount the output folder: it finds no manifest.
    manifest = tmp_path / "elsewhere" / "manifest.json"
    future = client.submit(
        solve_on_worker, 0, 1, print, str(manifest), "{}", {}, (), pdeml.__version__
    )
    with pytest.raises(FileNotFoundError, match=r"Dask worker tcp://.* does not see .*shar"):
        future.result()


def test_stale_task_of_another_run_writes_nothing(tmp_path, client):
    # A task left running by an interrupted client, after the folder was given to a run
    # with other settings (--overwrite): it must not drop its chunk there.
    (tmp_path / "manifest.json").write_text('{"n": 8}')
    args = (0, 1, print, str(tmp_path / "manifest.json"), '{"n": 4}', {}, (), pdeml.__version__)
    assert client.submit(solve_on_worker, *args).result() == {"start": 0, "discarded": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_worker_with_another_pdeml_version_is_refused(tmp_path, client):
    (tmp_path / "manifest.json").write_text("{}")
    args = (0, 1, print, str(tmp_path / "manifest.json"), "{}", {}, (), "0.0.0-other")
    with pytest.raises(RuntimeError, match="same version on every worker"):
        client.submit(solve_on_worker, *args).result()


def numba_threads(start, stop, folder):
    """A chunk task that solves nothing and reports the numba threads it was given."""
    import numba

    return start, float(numba.get_num_threads())


@pytest.mark.parametrize("known", [True, False])
def test_each_chunk_gets_its_share_of_the_cores(tmp_path, client, known):
    import numba

    from pdeml._threads import available_cores

    client.wait_for_workers(2, timeout=60)  # the one killed above is restarted by now
    (tmp_path / "manifest.json").write_text("{}")
    # The 2 workers share this machine's cores. Unknown host: a worker that joined after
    # the run started, which asks the scheduler.
    slots = {"127.0.0.1": 2} if known else {}
    args = (str(tmp_path / "manifest.json"), "{}", slots, (), pdeml.__version__)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        result = client.submit(solve_on_worker, 0, 1, numba_threads, *args).result()
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    share = max(1, available_cores() // 2)
    assert result["seconds"] == min(share, numba.config.NUMBA_NUM_THREADS)
    assert result["files"] == []


def test_dask_failures_are_said_in_one_line(tmp_path):
    from pdeml.data.distributed import _finished

    class Future:
        def __init__(self, error=None, result=None):
            self.error, self.value = error, result

        def result(self):
            if self.error is not None:
                raise self.error
            return self.value

    last = types.SimpleNamespace(address="tcp://w:1")  # the scheduler's record of it
    killed = Future(distributed.KilledWorker("key", last, 3))
    with pytest.raises(RuntimeError, match=r"samples 4..5.*kept in .*reused by the next run"):
        _finished(killed, "4..5", tmp_path, "tcp://s:1")
    unseen = Future(result={"start": 0, "worker": "tcp://w:1", "files": ["chunk_000000000.npz"]})
    with pytest.raises(FileNotFoundError, match=r"tcp://w:1 wrote chunk_000000000.npz .*share"):
        _finished(unseen, "0..1", tmp_path, "tcp://s:1")


def test_problem_defined_in_a_script_is_refused(tmp_path, problem, client, monkeypatch):
    monkeypatch.setattr(type(problem), "worker_modules", lambda self: ("__main__",))
    with pytest.raises(ValueError, match="Dask workers cannot import"):
        pdeml.generate(problem, 4, 0, tmp_path / "m.h5", scheduler=client, progress=False)
