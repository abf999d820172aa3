"""The `local:` name space: small checkpoints of real `transformers` architectures that
genobench builds itself, cached under `cache_dir()/models/`.

Hub models cannot be downloaded on every machine, so tests and the default report use
stand-ins of the same architecture families, saved with `save_pretrained` and loaded
back through the one loader (`genobench.models.loading`), like a hub checkpoint:

| name | what | built by |
|---|---|---|
| tiny-mistral, tiny-bert | random-init Mistral causal LM / BERT masked LM | `build_local_model` |
| genomic-lm, genomic-lm-tiny | Mistral trained on the synthetic metagenome | `build_genomic_lm` |
| esm2-tiny, esm2-t6-8m, esm2-t12-35m | random-init ESM2 shapes | `esm.build_local_esm` |
| planted-* (registry `standin:`) | trained on a reference genome | `standins.train_standin` |

Weights depend only on the name (and for stand-ins the reference and seed). Every build
goes through `build_cached`: one lock per folder, built beside it and renamed into place,
so parallel jobs build each model once and a killed build leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from genobench.models.build import dna_tokenizer, save_checkpoint
from genobench.models.registry import LOCAL_PREFIX, RegistryError, lookup
from genobench.paths import cache_dir, cache_lock

# name -> (family, size settings) of the random-init checkpoints
LOCAL_MODELS = {
    "tiny-mistral": ("mistral", dict(hidden_size=64, num_layers=2, num_heads=4)),
    "tiny-bert": ("bert", dict(hidden_size=64, num_layers=2, num_heads=4)),
}
# name -> keyword arguments of genomic_lm.build_genomic_lm: trained on the synthetic
# metagenome (about 80 s on 2 threads, once), and its random-init tiny version
GENOMIC_LMS = {
    "genomic-lm": dict(preset="default", seed=0, num_threads=2),
    "genomic-lm-tiny": dict(preset="tiny", seed=0),
}


def genomic_lm_folder(name: str) -> Path:
    """Cache folder of the genomic LM `name`, keyed by its full settings (preset values
    included), so a changed preset builds a new model instead of reusing the old one."""
    from genobench.models.genomic_lm import PRESETS

    kwargs = GENOMIC_LMS[name]
    key = {"settings": PRESETS[kwargs["preset"]], **kwargs}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"{name}-{digest}"


def build_cached(
    path: str | Path, build: Callable[[Path], object], done_file: str = "config.json"
) -> Path:
    """`path`, built once by `build(tmp_folder)` under the folder's cache lock.

    Another process building the same folder waits for the lock and then finds it done.
    The build writes into `<path>.building` (cleared first: left by a killed build), which
    is renamed to `path` when it finished.
    """
    path = Path(path)
    with cache_lock(
        "build-"
        + str(path.relative_to(cache_dir()) if path.is_relative_to(cache_dir()) else path).replace(
            "/", "_"
        )
    ):
        if (path / done_file).exists():
            return path
        tmp = path.with_name(path.name + ".building")
        shutil.rmtree(tmp, ignore_errors=True)
        build(tmp)
        if not (tmp / done_file).exists():
            raise RuntimeError(f"building {path} wrote no {done_file}")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    return path


def build_local_model(
    path: str | Path,
    family: str,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 8192,
    seed: int = 0,
) -> Path:
    """Build a random-initialised model of `family` ("mistral" or "bert") into `path`."""
    from transformers import BertConfig, BertForMaskedLM, MistralConfig, MistralForCausalLM

    if family not in ("mistral", "bert"):
        raise ValueError(f"unknown local model family {family!r}; choose 'mistral' or 'bert'")
    tokenizer = dna_tokenizer("char", wrap="cls_sep" if family == "bert" else "none")
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    if family == "mistral":
        model = MistralForCausalLM(MistralConfig(num_key_value_heads=num_heads, **common))
    else:
        model = BertForMaskedLM(BertConfig(**common))
    path = Path(path)
    save_checkpoint(model, tokenizer, path)
    return path


def local_names() -> list[str]:
    """Every name of the `local:` name space."""
    from genobench.models.esm import LOCAL_ESM_MODELS
    from genobench.models.registry import load_registry

    standins = [s.hub_id[len(LOCAL_PREFIX) :] for s in load_registry().values() if s.standin]
    return [*LOCAL_MODELS, *GENOMIC_LMS, *LOCAL_ESM_MODELS, *standins]


def local_model_path(
    name: str,
    reference: dict[str, str] | None = None,
    seed: int = 0,
    progress: bool = False,
    standin: dict | None = None,
) -> Path:
    """Folder of the local model `name`, built on first use.

    Stand-ins (registry entries with `standin:` settings, `standin` overriding them) are
    trained on `reference`, which they then need.
    """
    from genobench.models.esm import LOCAL_ESM_MODELS, build_local_esm

    folder = cache_dir() / "models" / name
    if name in LOCAL_MODELS:
        family, sizes = LOCAL_MODELS[name]
        return build_cached(folder, lambda tmp: build_local_model(tmp, family, **sizes))
    if name in GENOMIC_LMS:
        from genobench.models.genomic_lm import TRAINING_FILE, build_genomic_lm

        return build_cached(
            genomic_lm_folder(name),
            lambda tmp: build_genomic_lm(tmp, **GENOMIC_LMS[name]),
            TRAINING_FILE,
        )
    if name in LOCAL_ESM_MODELS:
        return build_cached(folder, lambda tmp: build_local_esm(tmp, **LOCAL_ESM_MODELS[name]))
    spec = lookup(LOCAL_PREFIX + name)
    if spec is not None and spec.standin:
        from genobench.models.standins import standin_path

        if not reference:
            raise ValueError(
                f"local:{name} is a stand-in trained on the benchmark's reference "
                "genome; pass reference="
            )
        settings = {**spec.standin, **(standin or {})}
        return standin_path(name, settings, spec.family, reference, seed, progress)
    raise RegistryError(f"unknown local model {name!r}; available: {', '.join(local_names())}")


def resolve_model(name_or_path: str, **kwargs) -> str:
    """`local:<name>` -> its built folder (see `local_model_path`); anything else as given."""
    if name_or_path.startswith(LOCAL_PREFIX):
        return str(local_model_path(name_or_path[len(LOCAL_PREFIX) :], **kwargs))
    return name_or_path
