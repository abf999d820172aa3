import json

from transformers import AutoModelForCausalLM

from genobench.cli import main


def test_build_lm_tiny_writes_a_loadable_model(tmp_path, capsys):
    path = tmp_path / "lm"
    assert main(["build-lm", "--tiny", "--path", str(path), "--max-steps", "2"]) == 0
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == "mistral"
    assert str(path) in capsys.readouterr().out
    assert any(p.suffix == ".json" for p in path.iterdir())
    assert json.loads((path / "config.json").read_text())["vocab_size"] > 4


def test_report_options_come_from_the_report_arguments(monkeypatch):
    from genobench.report.workflow import driver

    seen = []
    monkeypatch.setattr(driver, "report", lambda opts: seen.append(opts) or 0)
    argv = ["--reports-dir", "out", "report", "--params", "smoke", "gpu", "--cores", "2", "-n"]
    assert main([*argv, "--", "--forceall"]) == 0
    assert seen == [
        driver.ReportOptions(
            params_sets=["smoke", "gpu"],
            reports_dir="out",
            cores=2,
            dry_run=True,
            snakemake_args=["--forceall"],
        )
    ]
    assert main(["report", "--only", "binning"]) == 0
    assert seen[-1] == driver.ReportOptions(only=["binning"])


def test_build_lm_refuses_a_custom_model_in_the_default_slot():
    import pytest

    with pytest.raises(SystemExit, match="give --path"):
        main(["build-lm", "--tiny", "--max-steps", "2"])
