"""The fused optimiser: torch's Adam/AdamW arithmetic on complex weights, one kernel per step,
checkpoints that load both ways, and exact resume through the Trainer."""

import copy

import pytest
import torch

from pdeml.nn.fourier import FNO
from pdeml.training.losses import relative_lp
from pdeml.training.optimizers import make_optimizer
from pdeml.training.trainer import Trainer, TrainerConfig

# torch >= 2.4 has the fused CPU kernel; older versions take the per-parameter loop.
FUSED_ON_CPU = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


@pytest.fixture(autouse=True)
def _steady_threads(monkeypatch):
    # Bitwise comparisons need the same thread count in every fit (see test_trainer.py).
    monkeypatch.setattr("pdeml.training.trainer.idle_cores", lambda: 1)


def tiny_fno(seed=0):
    torch.manual_seed(seed)
    return FNO(1, 1, (3, 3), width=4, projection=8, padding=(2, 2), periodic=(False, False))


def data(n=8):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n, 1, 8, 8, generator=generator)
    return x, x.roll(1, -1) + 0.5


def train(model, optimizer, steps=10):
    x, y = data()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        relative_lp(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("name, plain", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_same_updates_as_torchs_optimizer_on_complex_weights(name, plain):
    ours, theirs = tiny_fno(), tiny_fno()
    assert any(p.is_complex() for p in ours.parameters())
    optimizer = make_optimizer(name, ours.parameters(), lr=1e-2, weight_decay=1e-3)
    if FUSED_ON_CPU:
        assert optimizer.param_groups[0]["fused"]
    train(ours, optimizer)
    train(theirs, plain(theirs.parameters(), lr=1e-2, weight_decay=1e-3))
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_zero_grad_closure_and_parameter_groups():
    model = tiny_fno()
    complex_weights = [p for p in model.parameters() if p.is_complex()]
    real_weights = [p for p in model.parameters() if not p.is_complex()]
    groups = [{"params": complex_weights, "lr": 1e-3}, {"params": real_weights}]
    optimizer = make_optimizer("adam", groups, lr=1e-2)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-2]
    x, y = data()
    before = [p.detach().clone() for p in complex_weights]

    def closure():
        optimizer.zero_grad()
        loss = relative_lp(model(x), y)
        loss.backward()
        return loss

    assert torch.isfinite(optimizer.step(closure))
    # The step reached the complex weights themselves (through their real views).
    assert all(not torch.equal(a, b) for a, b in zip(before, complex_weights))
    optimizer.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in model.parameters())


def test_checkpoints_of_torchs_optimizer_load_and_continue_alike():
    # A run checkpointed by the plain optimiser (complex moments) resumes with ours.
    model = tiny_fno()
    plain = torch.optim.Adam(model.parameters(), lr=1e-2)
    train(model, plain, steps=3)
    reference = copy.deepcopy(model)
    continued = torch.optim.Adam(reference.parameters(), lr=1e-2)
    # Copies, as from a file: a loaded state shares the given tensors.
    continued.load_state_dict(copy.deepcopy(plain.state_dict()))
    train(reference, continued, steps=3)
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-2)
    optimizer.load_state_dict(copy.deepcopy(plain.state_dict()))
    if FUSED_ON_CPU:
        assert optimizer.param_groups[0]["fused"]  # the kernel choice is this machine's
    train(model, optimizer, steps=3)
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_trainer_resume_with_complex_weights_is_exact(tmp_path):
    settings = {"batch_size": 4, "lr": 1e-2, "step_size": 2, "progress": False}
    reference = tiny_fno()
    Trainer(TrainerConfig(epochs=4, **settings)).fit(reference, relative_lp, data())
    resumed = tiny_fno()
    Trainer(TrainerConfig(epochs=2, **settings)).fit(resumed, relative_lp, data(), out_dir=tmp_path)
    fresh = tiny_fno(seed=5)  # everything must come from the checkpoint
    Trainer(TrainerConfig(epochs=4, **settings)).fit(
        fresh, relative_lp, data(), out_dir=tmp_path, resume=True
    )
    for a, b in zip(fresh.parameters(), reference.parameters()):
        assert torch.equal(a, b)


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("sgd", tiny_fno().parameters(), lr=1e-3)
