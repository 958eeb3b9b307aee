"""models.kernels: the linear-layer kernel is forced, measured or read from the cache, and applied."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from alignment_tax.errors import AltaxError  # noqa: E402
from alignment_tax.models import kernels  # noqa: E402
from alignment_tax.models.packed import PackedLinear  # noqa: E402
from test_packed import tiny  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch was built without oneDNN")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALTAX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(kernels.KERNEL_ENV, raising=False)


def packed_layers(model) -> int:
    return sum(isinstance(m, PackedLinear) for m in model.modules())


@pytest.mark.parametrize(("kernel", "packed"), [("dense", 0), ("onednn", 15)])
def test_a_forced_kernel_is_applied(monkeypatch, kernel, packed):
    monkeypatch.setenv(kernels.KERNEL_ENV, kernel)
    model = tiny()
    assert kernels.choose_kernel(model) == kernels.KernelChoice(kernel, "forced")
    assert packed_layers(model) == packed


def test_the_choice_is_measured_once_then_read_from_the_cache(monkeypatch):
    first = kernels.choose_kernel(model := tiny())
    assert first.how == "measured" and set(first.timings_ms) == {"dense", "onednn"}
    assert all(ms > 0 for ms in first.timings_ms.values())
    assert packed_layers(model) == (15 if first.kernel == "onednn" else 0)
    again = kernels.choose_kernel(tiny())
    assert again == kernels.KernelChoice(first.kernel, "cached")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 97)  # another thread count is another measurement
    assert kernels.choose_kernel(tiny()).how == "measured"


def test_measurement_picks_the_faster_kernel(monkeypatch):
    slow = PackedLinear.forward

    def slower(self, x):
        for _ in range(20):
            slow(self, x)
        return slow(self, x)

    monkeypatch.setattr(PackedLinear, "forward", slower)
    choice = kernels.measure(tiny())
    assert choice.kernel == "dense" and choice.timings_ms["onednn"] > choice.timings_ms["dense"]


def test_a_model_that_cannot_be_packed_runs_dense_and_refuses_onednn(monkeypatch):
    model = tiny().to(torch.bfloat16)
    assert kernels.choose_kernel(model) == kernels.KernelChoice("dense", "only choice")
    monkeypatch.setenv(kernels.KERNEL_ENV, "onednn")
    with pytest.raises(AltaxError, match="needs a float32 model"):
        kernels.choose_kernel(model)


def test_an_unknown_kernel_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(kernels.KERNEL_ENV, "fastest")
    with pytest.raises(AltaxError, match="choose one of auto, dense, onednn"):
        kernels.choose_kernel(tiny())
