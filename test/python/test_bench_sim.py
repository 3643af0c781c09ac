"""`intar bench sim`: the small-kernel table and its README block (the benchmark itself, one
Verilator build per design, runs outside the default tests)."""

from __future__ import annotations

from pathlib import Path

from intar.tools.bench import kernel_table
from intar.tools.readme import markers, replace_block


def _result() -> dict:
    def rec(kernel: str, mode: str, cycles: int, predicted: int) -> dict:
        err = round(predicted / cycles - 1, 4)
        return {
            "kernel": kernel,
            "mode": mode,
            "status": "pass",
            "cycles": cycles,
            "predicted_cycles": predicted,
            "model_error": err,
        }

    kernels = [rec("mlp", "intar", 1000, 1050), rec("mlp", "sequential", 2000, 1900)]
    return {
        "modes": ["intar", "dataflow", "sequential"],
        "kernels": kernels,
        "summary": {
            "mean_abs_model_error": 0.05,
            "max_abs_model_error": 0.05,
            "kernel_designs_run": 2,
            "random_graphs": 3,
            "random_mean_abs_model_error": 0.01,
            "random_max_abs_model_error": 0.02,
            "designs_simulated": 11,
            "designs_within_5_percent": 11,
            "designs_within_10_percent": 11,
        },
    }


def test_kernel_table_has_a_cell_per_mode_and_the_error_summary() -> None:
    table = kernel_table(_result())
    assert "| mlp | 1,000 / 1,050 (+5.0%) | — | 2,000 / 1,900 (−5.0%) |" in table
    assert "largest 5.0% over these 2 designs" in table and "11 within 10%" in table


def test_readme_sim_block_is_replaced_in_place(tmp_path: Path) -> None:
    begin, end = markers("sim", "intar bench sim")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{begin}\nold table\n{end}\nafter\n")
    assert replace_block(readme, "sim", "intar bench sim", kernel_table(_result()))
    text = readme.read_text()
    assert "old table" not in text and "| mlp |" in text and text.endswith(f"{end}\nafter\n")
    (tmp_path / "plain.md").write_text("no markers\n")
    assert not replace_block(tmp_path / "plain.md", "sim", "intar bench sim", "x")
    assert (tmp_path / "plain.md").read_text() == "no markers\n"
