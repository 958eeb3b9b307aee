"""The tax card's facts of a stored run: its analysis, configurations and fingerprints, the detector's accuracy."""

from __future__ import annotations

from alignment_tax import __version__
from alignment_tax.judge.accuracy import measured_accuracy
from alignment_tax.judge.stage import judge_name
from alignment_tax.report.card import CardFacts
from alignment_tax.store import Store
from alignment_tax.workflows.experiment import Settings, analyse


def card_facts(store: Store, run_id: str, settings: Settings) -> CardFacts:
    """What the card of ``run_id`` (an id, a prefix or 'latest') states, judged by ``settings.detector``."""
    output = analyse(store, store.run(run_id).run_id, settings)
    run = output.run.run_id
    return CardFacts(
        info=output.run,
        results=output.results,
        judge=judge_name(settings.detector),
        configs=store.run_configs(run),
        fingerprints=store.run_fingerprints(run),
        accuracy=measured_accuracy(settings.detector),
        version=__version__,
    )
