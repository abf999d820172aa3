import pytest
import yaml

from genobench.gfm.registry import RegistryError, load_registry, select_models

HUB_IDS = {
    "zhihan1996/DNABERT-2-117M",
    "InstaDeepAI/nucleotide-transformer-v2-500m-multi-species",
    "InstaDeepAI/nucleotide-transformer-2.5b-multi-species",
    "LongSafari/hyenadna-large-1m-seqlen-hf",
    "kuleshov-group/caduceus-ph_seqlen-131k_d_model-256_n_layer-16",
    "togethercomputer/evo-1-131k-base",
    "pGenomeOcean/GenomeOcean-4B",
}

GOOD = dict(hub_id="org/model", type="encoder", family="bert", params=1000, embedding_dim=64,
            max_length=512, tokenization="char", zero_shot_method="embedding_distance",
            trust_remote_code=False, needs_4bit=False)


def registry_file(tmp_path, **entries):
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"models": entries}))
    return path


def test_shipped_registry_has_the_hub_models_and_stand_ins():
    reg = load_registry()
    assert HUB_IDS <= {spec.hub_id for spec in reg.values()}
    assert reg["evo-1"].needs_4bit and reg["evo-1"].type == "causal"
    assert reg["nt-v2-500m"].kmer == 6 and "masked_marginal" in reg["nt-v2-500m"].methods
    assert reg["dnabert2"].trust_remote_code and reg["dnabert2"].tokenization == "bpe"
    for name in ("planted-bert", "planted-nt", "planted-mistral", "planted-mamba"):
        assert reg[name].standin and reg[name].is_local
    assert reg["kmer-markov"].order == 5
    for spec in reg.values():
        assert spec.zero_shot_method in ("embedding_distance", "log_likelihood_ratio")
        assert spec.methods[0] == spec.zero_shot_method


def test_unknown_method_is_rejected(tmp_path):
    path = registry_file(tmp_path, m={**GOOD, "zero_shot_method": "vibes"})
    with pytest.raises(RegistryError, match="model 'm': unknown zero_shot_method 'vibes'"):
        load_registry(path)
    path = registry_file(tmp_path, m={**GOOD, "extra_methods": ["telepathy"]})
    with pytest.raises(RegistryError, match="unknown method 'telepathy' in extra_methods"):
        load_registry(path)


@pytest.mark.parametrize("change, match", [
    (dict(type="decoder"), "type 'decoder' is not one of encoder, causal"),
    (dict(zero_shot_method="log_likelihood_ratio"), "log_likelihood_ratio needs type causal"),
    (dict(extra_methods=["masked_marginal"]), "masked_marginal needs type encoder with masked_lm"),
    (dict(tokenization="words"), "tokenization 'words'"),
    (dict(needs_4bit="yes"), "needs_4bit must be true or false"),
    (dict(params=-3), "params must be a positive number"),
    (dict(colour="blue"), "unknown field\\(s\\) colour"),
    (dict(family="kmer_markov"), "scored by log_likelihood_ratio only"),
])
def test_bad_entries_are_named(tmp_path, change, match):
    with pytest.raises(RegistryError, match=match):
        load_registry(registry_file(tmp_path, m={**GOOD, **change}))


def test_missing_field_and_bad_file(tmp_path):
    entry = dict(GOOD)
    del entry["needs_4bit"]
    with pytest.raises(RegistryError, match="missing field\\(s\\) needs_4bit"):
        load_registry(registry_file(tmp_path, m=entry))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(RegistryError, match="`models:` mapping"):
        load_registry(bad)


def test_select_models_keeps_order_and_names_unknown():
    reg = load_registry()
    assert [s.name for s in select_models(reg, ["kmer-markov", "dnabert2"])] == [
        "kmer-markov", "dnabert2"]
    with pytest.raises(RegistryError, match="'gpt-5' not in the registry"):
        select_models(reg, ["kmer-markov", "gpt-5"])
