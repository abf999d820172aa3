"""The genomic foundation model registry: one YAML entry per model, validated on load.

Each entry names where the model comes from (`hub_id`: a hub id, a local folder,
`local:<name>` for a stand-in genobench trains itself, or `kmer-markov` for the
classical baseline), what kind of model it is and how it is scored zero-shot.
See params/gfm_zeroshot/registry.yaml for the fields and the shipped entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MODEL_TYPES = ("encoder", "causal")
# the primary zero-shot method of an entry (the two)
PRIMARY_METHODS = ("embedding_distance", "log_likelihood_ratio")
# every method a wrapper can compute; extra_methods may list the others
METHODS = ("embedding_distance", "embedding_distance_local", "masked_marginal",
           "log_likelihood_ratio")
# the direction of each method's raw value: pathogenicity score = sign * raw
# (a variant that lowers the likelihood, LLR < 0, or moves the embedding is "more damaging")
METHOD_SIGN = {"embedding_distance": 1.0, "embedding_distance_local": 1.0,
               "masked_marginal": -1.0, "log_likelihood_ratio": -1.0}
FAMILIES = ("bert", "nt", "dnabert2", "caduceus", "mistral", "hyena", "evo", "mamba",
            "kmer_markov", "auto")
_TOKENIZATION = re.compile(r"^(char|bpe|kmer\d+)$")
REQUIRED = ("hub_id", "type", "family", "params", "embedding_dim", "max_length", "tokenization",
            "zero_shot_method", "trust_remote_code", "needs_4bit")


class RegistryError(ValueError):
    """A registry file or entry that cannot be used; the message names the entry and field."""


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry."""

    name: str
    hub_id: str
    type: str  # encoder | causal
    family: str
    params: int | None  # parameter count
    embedding_dim: int | None
    max_length: int | None  # longest input in bp (None: unbounded)
    tokenization: str  # char | kmer<k> | bpe
    zero_shot_method: str
    trust_remote_code: bool
    needs_4bit: bool  # needs 4-bit weights to fit a 24 GB GPU
    extra_methods: tuple[str, ...] = ()
    masked_lm: bool = False  # has a masked-LM head (offers masked_marginal)
    display_name: str = ""
    notes: str = ""
    standin: dict[str, Any] = field(default_factory=dict)  # training settings of a stand-in
    order: int | None = None  # k-mer Markov order

    @property
    def methods(self) -> tuple[str, ...]:
        """The primary method first, then the extra ones."""
        return (self.zero_shot_method,) + tuple(m for m in self.extra_methods
                                                if m != self.zero_shot_method)

    @property
    def kmer(self) -> int | None:
        """k of a k-mer tokenizer, else None."""
        return int(self.tokenization[4:]) if self.tokenization.startswith("kmer") else None

    @property
    def is_local(self) -> bool:
        return self.hub_id.startswith("local:") or self.family == "kmer_markov"


def _check_entry(name: str, entry: Any, where: str) -> ModelSpec:
    def fail(msg: str) -> RegistryError:
        return RegistryError(f"{where}: model {name!r}: {msg}")

    if not isinstance(entry, dict):
        raise fail(f"entry must be a mapping of field: value, got {type(entry).__name__}")
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    known = set(ModelSpec.__dataclass_fields__) - {"name"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; fields are {', '.join(sorted(known))}")
    if entry["type"] not in MODEL_TYPES:
        raise fail(f"type {entry['type']!r} is not one of {', '.join(MODEL_TYPES)}")
    if entry["family"] not in FAMILIES:
        raise fail(f"family {entry['family']!r} is not one of {', '.join(FAMILIES)}")
    if entry["zero_shot_method"] not in PRIMARY_METHODS:
        raise fail(f"unknown zero_shot_method {entry['zero_shot_method']!r}; choose one of "
                   f"{', '.join(PRIMARY_METHODS)}")
    extra = entry.get("extra_methods") or []
    if not isinstance(extra, list):
        raise fail("extra_methods must be a list")
    for method in extra:
        if method not in METHODS:
            raise fail(f"unknown method {method!r} in extra_methods; choose from "
                       f"{', '.join(METHODS)}")
    methods = [entry["zero_shot_method"], *extra]
    if "log_likelihood_ratio" in methods and entry["type"] != "causal":
        raise fail("log_likelihood_ratio needs type causal (an encoder has no sequence "
                   "likelihood; use masked_marginal)")
    if "masked_marginal" in methods and not (entry["type"] == "encoder"
                                            and entry.get("masked_lm", False)):
        raise fail("masked_marginal needs type encoder with masked_lm: true")
    if entry["family"] == "kmer_markov" and set(methods) != {"log_likelihood_ratio"}:
        raise fail("the k-mer Markov baseline is scored by log_likelihood_ratio only")
    if entry["family"] == "kmer_markov" and not isinstance(entry.get("order"), int):
        raise fail("family kmer_markov needs an integer order")
    if not _TOKENIZATION.match(str(entry["tokenization"])):
        raise fail(f"tokenization {entry['tokenization']!r} must be char, bpe or kmer<k>")
    for key in ("trust_remote_code", "needs_4bit", "masked_lm"):
        if key in entry and not isinstance(entry[key], bool):
            raise fail(f"{key} must be true or false, got {entry[key]!r}")
    for key in ("params", "embedding_dim", "max_length"):
        value = entry[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value <= 0):
            raise fail(f"{key} must be a positive number or null, got {value!r}")
    values = {k: v for k, v in entry.items()}
    for key in ("params", "embedding_dim", "max_length"):
        if values[key] is not None:
            values[key] = int(values[key])
    values["extra_methods"] = tuple(extra)
    values["standin"] = dict(entry.get("standin") or {})
    return ModelSpec(name=name, **values)


def load_registry(path: str | Path | None = None) -> dict[str, ModelSpec]:
    """Read and validate a registry YAML (`models:` mapping name -> entry)."""
    path = Path(path) if path is not None else default_registry_path()
    if not path.is_file():
        raise RegistryError(f"{path}: no such registry file")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise RegistryError(f"{path}: a registry is a YAML mapping with a `models:` mapping of "
                            "name -> entry")
    return {name: _check_entry(name, entry, str(path)) for name, entry in data["models"].items()}


def default_registry_path() -> Path:
    """params/gfm_zeroshot/registry.yaml of this checkout."""
    return Path(__file__).resolve().parents[2] / "params" / "gfm_zeroshot" / "registry.yaml"


def select_models(registry: dict[str, ModelSpec], names: list[str]) -> list[ModelSpec]:
    """The registry entries for `names`, in that order; an unknown name is an error."""
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise RegistryError(f"model(s) {', '.join(map(repr, unknown))} not in the registry; "
                            f"known: {', '.join(registry)}")
    return [registry[n] for n in names]
