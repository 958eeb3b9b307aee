"""`altax loglik`'s table: both accuracies, the taxes and the refusal-driven estimate beside the judged one."""

import io

from rich.console import Console

from alignment_tax.analysis.loglik import LoglikRow
from alignment_tax.report.loglik_table import loglik_table


def test_the_table_shows_each_configuration_with_signed_points():
    row = LoglikRow(
        config="safe", n=40, loglik_accuracy=62.5, generation_accuracy=50.0, gap=12.5, refusal_rate=15.0,
        generation_tax=10.0, loglik_tax=-2.5, refusal_estimate=12.5, refusal_estimate_ci=(4.0, 21.0),
        refusal_driven=11.0,
    )  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=250).print(loglik_table([row], "letter"))
    text = out.getvalue()
    assert "Log-likelihood vs generation, 40 multiple-choice items (letter)" in text
    cells = [cell.strip() for cell in text.splitlines()[-2].split("│") if cell.strip()]
    assert cells == ["safe", "62.5%", "50.0%", "+12.5", "15.0%", "+10.0", "-2.5", "+12.5 [+4.0,+21.0]", "+11.0"]
