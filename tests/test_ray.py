"""The Ray executor on a loopback cluster (head and one worker node): the local executor's results, bit for bit."""

from __future__ import annotations

import os

import pytest

from alignment_tax.configs.schema import Configuration, Decoding
from alignment_tax.errors import AltaxError
from alignment_tax.models.specs import load_backend
from alignment_tax.run.executor import execute
from alignment_tax.run.executors import open_executor
from alignment_tax.run.planner import plan
from alignment_tax.store import Store
from alignment_tax.suite.schema import Item

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on loopback (read when ray is imported)
ray_cluster_utils = pytest.importorskip("ray.cluster_utils", reason="the ray extra is not installed")
pytestmark = pytest.mark.slow
MODEL = "builtin:smollm2-135m-instruct"
QUESTIONS = ["What is the capital of France?", "Name a primary colour.", "What is 3 + 4?", "Who wrote Hamlet?"]


@pytest.fixture(scope="module")
def cluster():
    """A head node and a worker node on 127.0.0.1, one CPU each, torn down with their processes."""
    local = ray_cluster_utils.Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    )
    local.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    local.wait_for_nodes()
    yield local
    local.shutdown()


def planned_requests():
    items = [
        Item(id=f"q{i}", category="factual_recall", prompt=q, reference={"scorer": "exact", "answers": ["x"]})
        for i, q in enumerate(QUESTIONS)
    ]
    configs = [
        Configuration(name="plain", model=MODEL),
        Configuration(name="brief", model=MODEL, system_prompt="Be brief."),
    ]
    backend = load_backend(MODEL)
    decoding = Decoding(max_new_tokens={"factual_recall": 12})
    return backend, plan(configs, items, {MODEL: backend}, decoding)


def generations(store: Store, keys) -> dict:
    return {k: (g.text, g.finish_reason, g.n_tokens, g.prompt) for k, g in store.generations(keys).items()}


def test_ray_results_equal_local_bit_for_bit_and_resume(cluster, tmp_path):
    backend, planned = planned_requests()
    keys = [p.request.key for p in planned]
    local = Store(tmp_path / "local.sqlite")
    assert execute(backend, planned, local, batch_size=3) == len(keys)

    distributed = Store(tmp_path / "ray.sqlite")
    distributed.put_generations(list(local.generations(keys[:3]).values()))  # a run stopped after one batch
    counted = []
    with open_executor(f"ray:{cluster.address}") as run_batches:
        assert run_batches.replicas == 2
        assert run_batches(backend, planned, distributed, batch_size=3, progress=counted.append) == len(keys) - 3
        assert run_batches(backend, planned, distributed, batch_size=3) == 0  # everything cached now
    assert sum(counted) == len(keys) - 3
    assert generations(distributed, keys) == generations(local, keys)


def test_unknown_executor_and_unreachable_cluster():
    with pytest.raises(AltaxError, match="unknown executor 'dask'"), open_executor("dask"):
        pass
    with pytest.raises(AltaxError, match="cannot reach the Ray cluster"), open_executor("ray:127.0.0.1:1"):
        pass


def test_run_experiment_with_the_ray_executor_matches_local(cluster, tmp_path):
    """Plain and steered configurations of one model: the replicas steer per call, as the local executor does."""
    import json

    from alignment_tax.configs.schema import Experiment, Steering
    from alignment_tax.workflows.experiment import Settings, run_experiment

    suite = tmp_path / "suite.jsonl"
    rows = [
        {"id": f"q{i}", "category": "factual_recall", "prompt": q, "reference": {"scorer": "exact", "answers": ["4"]}}
        for i, q in enumerate(QUESTIONS[2:])
    ]
    suite.write_text("".join(json.dumps(row) + "\n" for row in rows))
    experiment = Experiment(
        suite=str(suite),
        reference="plain",
        configs=[
            Configuration(name="plain", model=MODEL),
            Configuration(
                name="steered",
                model=MODEL,
                steering=Steering(direction="caa-smollm2-135m-instruct", layers=[15], strength=0.3),
            ),
        ],
        decoding=Decoding(max_new_tokens={"factual_recall": 8}),
    )
    outputs = {
        name: run_experiment(experiment, Settings(results_dir=tmp_path / name, n_boot=50, executor=executor))
        for name, executor in (("local", "local"), ("ray", f"ray:{cluster.address}"))
    }
    stores = {name: Store(tmp_path / name / "store.sqlite") for name in outputs}
    keys = [r.key for r in stores["local"].run_requests(outputs["local"].run.run_id)]
    assert len(set(keys)) == 2 * len(rows)
    assert generations(stores["ray"], keys) == generations(stores["local"], keys) != {}
    assert outputs["ray"].results == outputs["local"].results
