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
