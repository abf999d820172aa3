"""Small local checkpoints of real `transformers` architectures, built by genobench.

Hub models cannot be downloaded on every machine, so tests and the default report
use stand-ins of the same architecture families, saved with `save_pretrained` into
a folder and loaded back through the ordinary `from_pretrained` code path.
Weights are random-initialised from a fixed seed: the same name always gives the
same weights.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import (BertConfig, BertForMaskedLM, MistralConfig, MistralForCausalLM,
                          PreTrainedTokenizerFast)

from genobench.paths import cache_dir, cache_lock

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ALPHABET = list("ACGTN")

# name -> (family, size settings)
LOCAL_MODELS = {
    "tiny-mistral": ("mistral", dict(hidden_size=64, num_layers=2, num_heads=4)),
    "tiny-bert": ("bert", dict(hidden_size=64, num_layers=2, num_heads=4)),
}
LOCAL_PREFIX = "local:"
# name -> keyword arguments of genobench.models.genomic_lm.build_genomic_lm: a causal
# genomic LM trained on the synthetic metagenome (about 2 min on an idle CPU, once), and
# its random-init tiny version for tests
GENOMIC_LMS = {
    "genomic-lm": dict(preset="default", seed=0),
    "genomic-lm-tiny": dict(preset="tiny", seed=0),
}


def dna_tokenizer(family: str) -> PreTrainedTokenizerFast:
    """A character-level DNA tokenizer (A, C, G, T, N + specials).

    Masked LMs (BERT family) wrap each sequence in [CLS] … [SEP]; causal LMs get no
    special tokens, as GenomeOcean-style tokenizers do for plain sequence input.
    """
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + ALPHABET)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    if family == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]),
                                                     ("[SEP]", vocab["[SEP]"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "attention_mask"])


def build_local_model(path: str | Path, family: str, hidden_size: int = 64,
                      num_layers: int = 2, num_heads: int = 4, max_positions: int = 8192,
                      seed: int = 0) -> Path:
    """Build a random-initialised model of `family` ("mistral" or "bert") into `path`."""
    tokenizer = dna_tokenizer(family)
    common = dict(vocab_size=len(tokenizer), hidden_size=hidden_size,
                  num_hidden_layers=num_layers, num_attention_heads=num_heads,
                  intermediate_size=4 * hidden_size, max_position_embeddings=max_positions,
                  pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    if family == "mistral":
        model = MistralForCausalLM(MistralConfig(num_key_value_heads=num_heads, **common))
    elif family == "bert":
        model = BertForMaskedLM(BertConfig(**common))
    else:
        raise ValueError(f"unknown local model family {family!r}; choose 'mistral' or 'bert'")
    path = Path(path)
    save_checkpoint(model, tokenizer, path)
    return path


def save_checkpoint(model, tokenizer, path: str | Path) -> None:
    """`save_pretrained` a model and its tokenizer into `path`, without transformers' bars."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def local_model_path(name: str) -> Path:
    """Path of the named local model (see LOCAL_MODELS), building it on first use."""
    if name not in LOCAL_MODELS and name not in GENOMIC_LMS:
        available = ", ".join([*LOCAL_MODELS, *GENOMIC_LMS])
        raise ValueError(f"unknown local model {name!r}; available: {available}")
    path = cache_dir() / "models" / name
    with cache_lock(f"model-{name}"):  # parallel report jobs build each model once
        if (path / "config.json").exists():
            return path
        if name in GENOMIC_LMS:
            from genobench.models.genomic_lm import build_genomic_lm

            build_genomic_lm(path, **GENOMIC_LMS[name])
        else:
            family, sizes = LOCAL_MODELS[name]
            tmp = path.with_name(path.name + ".building")
            shutil.rmtree(tmp, ignore_errors=True)  # left by a build that was killed
            build_local_model(tmp, family, **sizes)
            tmp.rename(path)
    return path


def resolve_model(name_or_path: str) -> str:
    """Turn `local:<name>` into the built folder's path; hub ids and paths pass through."""
    if name_or_path.startswith(LOCAL_PREFIX):
        return str(local_model_path(name_or_path[len(LOCAL_PREFIX):]))
    return name_or_path
