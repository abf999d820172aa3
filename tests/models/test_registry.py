"""The one model registry: shipped entries, validation, lookup, and every params file's models."""

from pathlib import Path

import pytest
import yaml

from genobench.models.registry import (
    RegistryError,
    default_registry_path,
    load_registry,
    lookup,
    select_models,
    spec_for,
)

REPO = Path(__file__).resolve().parents[2]
HUB_IDS = {
    "zhihan1996/DNABERT-2-117M",
    "InstaDeepAI/nucleotide-transformer-v2-500m-multi-species",
    "InstaDeepAI/nucleotide-transformer-2.5b-multi-species",
    "LongSafari/hyenadna-large-1m-seqlen-hf",
    "kuleshov-group/caduceus-ph_seqlen-131k_d_model-256_n_layer-16",
    "togethercomputer/evo-1-131k-base",
    "pGenomeOcean/GenomeOcean-4B",
    "facebook/esm2_t36_3B_UR50D",
    "facebook/esm2_t33_650M_UR50D",
    "Synthyra/FastESM2_650",
}
GOOD = dict(hub_id="org/model", type="encoder", family="bert")


def registry_file(tmp_path, **entries):
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"models": entries}))
    return path


def test_registry_ships_inside_the_package():
    path = default_registry_path()
    assert (
        path.is_file() and path.parent.name == "models" and path.parent.parent.name == "genobench"
    )
    assert not (REPO / "params" / "gfm_zeroshot" / "registry.yaml").exists()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"genobench.models" = ["registry.yaml"]' in pyproject


def test_shipped_registry_has_the_hub_models_stand_ins_and_baselines():
    reg = load_registry()
    assert HUB_IDS <= {spec.hub_id for spec in reg.values()}
    assert reg["evo-1"].needs_4bit and "flash_attn" in reg["evo-1"].packages
    assert reg["caduceus"].embedding_dim == 256 and "mamba_ssm" in reg["caduceus"].packages
    assert reg["nt-v2-500m"].kmer == 6 and "masked_marginal" in reg["nt-v2-500m"].methods
    assert reg["dnabert2"].trust_remote_code and reg["dnabert2"].tokenization == "bpe"
    assert reg["genomeocean-4b"].dtype_for("cuda:0") == "bfloat16"
    assert reg["genomeocean-4b"].dtype_for("cpu") == "float32"
    for name in ("planted-bert", "planted-nt", "planted-mistral", "planted-mamba"):
        assert reg[name].standin and reg[name].is_local
    assert reg["kmer-markov"].order == 5 and reg["kmer-markov"].is_baseline
    assert reg["tnf"].is_baseline and reg["tnf"].embedding_dim == 136
    for spec in reg.values():
        assert spec.methods[0] == spec.primary_method


def test_lookup_by_name_hub_id_alias_and_local_name():
    go = spec_for("genomeocean-4b")
    assert spec_for("pGenomeOcean/GenomeOcean-4B") is go
    assert spec_for("DOEJGI/GenomeOcean-4B") is go
    assert spec_for("local:esm2-tiny").name == "esm2-tiny"
    adhoc = spec_for("some-org/unlisted-model")
    assert not adhoc.registered and adhoc.family == "auto" and "config.model_type" in adhoc.notes
    with pytest.raises(
        RegistryError, match="unknown local model 'local:nope'; available: .*local:tiny-mistral"
    ):
        spec_for("local:nope")


def _param_files():
    return sorted((REPO / "params").glob("*/*.yaml"))


def _models_named(params: dict) -> list[str]:
    names = list(params.get("models") or [])
    if params.get("model"):
        names.append(params["model"])
    for pair in params.get("pairs") or []:
        names += [pair["reference"], pair["fast"]]
    return names


# model names of the semi-CRF benchmarks are heads of its own, not checkpoints
SEGMENTATION = {"softmax", "pytorch-crf", "linear", "semicrf", "semicrf_uniform"}


@pytest.mark.parametrize("path", _param_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_model_in_every_params_file_resolves(path):
    params = yaml.safe_load(path.read_text()) or {}
    names = [n for n in _models_named(params) if n not in SEGMENTATION]
    for name in names:
        assert lookup(name) is not None, f"{path}: {name!r} is not in the registry"
    assert "DOEJGI" not in path.read_text(), f"{path}: use pGenomeOcean/GenomeOcean-4B"


def test_params_files_name_models():
    named = [n for p in _param_files() for n in _models_named(yaml.safe_load(p.read_text()))]
    assert {"genomeocean-4b", "dnabert2", "evo-1", "fastesm2-650", "tnf"} <= set(named)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(type="decoder"), "type 'decoder' is not one of encoder, causal"),
        (dict(zero_shot_method="vibes"), "unknown zero_shot_method 'vibes'"),
        (dict(extra_methods=["telepathy"]), "unknown method 'telepathy' in extra_methods"),
        (dict(zero_shot_method="log_likelihood_ratio"), "log_likelihood_ratio needs type causal"),
        (
            dict(extra_methods=["masked_marginal"]),
            "masked_marginal needs type encoder with masked_lm",
        ),
        (dict(tokenization="words"), "tokenization 'words'"),
        (dict(needs_4bit="yes"), "needs_4bit must be true or false"),
        (dict(params=-3), "params must be a positive number"),
        (dict(colour="blue"), "unknown field\\(s\\) colour"),
        (dict(family="kmer_markov"), "the k-mer Markov baseline needs an integer order"),
        (dict(pooling="max"), "pooling 'max' is not one of"),
    ],
)
def test_bad_entries_are_named(tmp_path, change, match):
    with pytest.raises(RegistryError, match="model 'm': " + match):
        load_registry(registry_file(tmp_path, m={**GOOD, **change}))


def test_missing_field_duplicate_id_and_bad_file(tmp_path):
    entry = dict(GOOD)
    del entry["family"]
    with pytest.raises(RegistryError, match="missing field\\(s\\) family"):
        load_registry(registry_file(tmp_path, m=entry))
    with pytest.raises(RegistryError, match="'org/model' names both 'a' and 'b'"):
        load_registry(registry_file(tmp_path, a=GOOD, b={**GOOD, "aliases": []}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(RegistryError, match="`models:` mapping"):
        load_registry(bad)


def test_select_models_keeps_order_and_names_unknown():
    reg = load_registry()
    assert [s.name for s in select_models(reg, ["kmer-markov", "dnabert2"])] == [
        "kmer-markov",
        "dnabert2",
    ]
    with pytest.raises(RegistryError, match="'gpt-5' not in the registry"):
        select_models(reg, ["kmer-markov", "gpt-5"])
