"""The model registry: one YAML (package data) naming every model a benchmark uses.

`spec_for(name)` turns what a params file says (an entry name, an alias, a hub id,
`local:<name>` or a folder) into a `ModelSpec`. A hub id or folder that is not listed
gets an ad-hoc spec whose family the loader reads from `config.model_type` (with a
note saying so). The fields are described at the top of `registry.yaml`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

LOCAL_PREFIX = "local:"
MODEL_TYPES = ("encoder", "causal")
HEADS = ("auto", "causal", "masked", "none")
POOLING = ("mean", "residue_mean", "features")
# the primary zero-shot method of a gfm_zeroshot entry, and every method a wrapper computes
PRIMARY_METHODS = ("embedding_distance", "log_likelihood_ratio")
METHODS = (
    "embedding_distance",
    "embedding_distance_local",
    "masked_marginal",
    "log_likelihood_ratio",
)
# the direction of each method's raw value: pathogenicity score = sign * raw
# (a variant that lowers the likelihood, LLR < 0, or moves the embedding is "more damaging")
METHOD_SIGN = {
    "embedding_distance": 1.0,
    "embedding_distance_local": 1.0,
    "masked_marginal": -1.0,
    "log_likelihood_ratio": -1.0,
}
FAMILIES = (
    "bert",
    "nt",
    "esm",
    "fastesm",
    "dnabert2",
    "caduceus",
    "mistral",
    "hyena",
    "evo",
    "mamba",
    "tnf",
    "kmer_markov",
    "auto",
)
BASELINES = ("tnf", "kmer_markov")
_TOKENIZATION = re.compile(r"^(char|bpe|kmer\d+)$")
REQUIRED = ("hub_id", "type", "family")


class RegistryError(ValueError):
    """A registry file or entry that cannot be used; the message names the entry and field."""


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: where a model lives, how it is loaded and how it is scored."""

    name: str
    hub_id: str
    type: str  # encoder | causal
    family: str
    aliases: tuple[str, ...] = ()
    revision: str | None = None
    head: str = "auto"
    trust_remote_code: bool = False
    dtype: dict[str, str] = field(default_factory=dict)  # device kind -> dtype name
    params: int | None = None
    embedding_dim: int | None = None
    max_length: int | None = None  # longest input in bp (None: unbounded)
    tokenization: str = "char"
    pooling: str = "mean"
    packages: tuple[str, ...] = ()
    zero_shot_method: str = ""  # "" -> by type (see `methods`)
    extra_methods: tuple[str, ...] = ()
    masked_lm: bool = False
    needs_4bit: bool = False
    gpu_mem_gb: float | None = None
    offline_cache: str = ""
    standin: dict[str, Any] = field(default_factory=dict)
    order: int | None = None
    display_name: str = ""
    notes: str = ""
    registered: bool = True  # False: an ad-hoc spec for an unlisted hub id or folder

    @property
    def primary_method(self) -> str:
        """The zero-shot method scored first: the entry's, else by type."""
        if self.zero_shot_method:
            return self.zero_shot_method
        return "log_likelihood_ratio" if self.type == "causal" else "embedding_distance"

    @property
    def methods(self) -> tuple[str, ...]:
        """The primary method first, then the extra ones."""
        return (self.primary_method,) + tuple(
            m for m in self.extra_methods if m != self.primary_method
        )

    @property
    def kmer(self) -> int | None:
        """k of a k-mer tokenizer, else None."""
        return int(self.tokenization[4:]) if self.tokenization.startswith("kmer") else None

    @property
    def is_local(self) -> bool:
        """Built by genobench (`local:`) or a baseline: no download involved."""
        return self.hub_id.startswith(LOCAL_PREFIX) or self.family in BASELINES

    @property
    def is_baseline(self) -> bool:
        return self.family in BASELINES

    def dtype_for(self, device: str) -> str:
        """The preferred weight dtype on `device` ("auto" when the entry gives none)."""
        kind = "cuda" if str(device).startswith("cuda") else "cpu"
        return self.dtype.get(kind, "auto")


def _check_entry(name: str, entry: Any, where: str) -> ModelSpec:
    def fail(msg: str) -> RegistryError:
        return RegistryError(f"{where}: model {name!r}: {msg}")

    if not isinstance(entry, dict):
        raise fail(f"entry must be a mapping of field: value, got {type(entry).__name__}")
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    known = {f.name for f in dataclasses.fields(ModelSpec)} - {"name", "registered"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; fields are {', '.join(sorted(known))}")
    choices = {"type": MODEL_TYPES, "family": FAMILIES, "head": HEADS, "pooling": POOLING}
    for key, allowed in choices.items():
        if key in entry and entry[key] not in allowed:
            raise fail(f"{key} {entry[key]!r} is not one of {', '.join(allowed)}")
    primary = entry.get("zero_shot_method")
    if primary is not None and primary not in PRIMARY_METHODS:
        raise fail(
            f"unknown zero_shot_method {primary!r}; choose one of {', '.join(PRIMARY_METHODS)}"
        )
    for key in ("extra_methods", "aliases", "packages"):
        if not isinstance(entry.get(key) or [], list):
            raise fail(f"{key} must be a list")
    for method in entry.get("extra_methods") or []:
        if method not in METHODS:
            raise fail(
                f"unknown method {method!r} in extra_methods; choose from {', '.join(METHODS)}"
            )
    values = {k: v for k, v in entry.items()}
    for key in ("extra_methods", "aliases", "packages"):
        values[key] = tuple(entry.get(key) or ())
    values["standin"] = dict(entry.get("standin") or {})
    values["dtype"] = dict(entry.get("dtype") or {})
    values["zero_shot_method"] = primary or ""
    spec = ModelSpec(name=name, **values)
    methods = spec.methods
    if "log_likelihood_ratio" in methods and spec.type != "causal":
        raise fail(
            "log_likelihood_ratio needs type causal (an encoder has no sequence "
            "likelihood; use masked_marginal)"
        )
    if "masked_marginal" in methods and not (spec.type == "encoder" and spec.masked_lm):
        raise fail("masked_marginal needs type encoder with masked_lm: true")
    if spec.family == "kmer_markov" and (
        set(methods) != {"log_likelihood_ratio"} or not isinstance(spec.order, int)
    ):
        raise fail(
            "the k-mer Markov baseline needs an integer order and is scored by "
            "log_likelihood_ratio only"
        )
    if not _TOKENIZATION.match(str(spec.tokenization)):
        raise fail(f"tokenization {spec.tokenization!r} must be char, bpe or kmer<k>")
    for key in ("trust_remote_code", "needs_4bit", "masked_lm"):
        if not isinstance(getattr(spec, key), bool):
            raise fail(f"{key} must be true or false, got {getattr(spec, key)!r}")
    for key in ("params", "embedding_dim", "max_length"):
        value = getattr(spec, key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
        ):
            raise fail(f"{key} must be a positive number or null, got {value!r}")
    return dataclasses.replace(
        spec,
        **{
            k: int(getattr(spec, k))
            for k in ("params", "embedding_dim", "max_length")
            if getattr(spec, k) is not None
        },
    )


def default_registry_path() -> Path:
    """The registry shipped inside the package (genobench/models/registry.yaml)."""
    return Path(str(resources.files("genobench.models") / "registry.yaml"))


def load_registry(path: str | Path | None = None) -> dict[str, ModelSpec]:
    """Read and validate a registry YAML (`models:` mapping name -> entry); the shipped one
    when `path` is None."""
    if path is None:
        return dict(_shipped())
    return _read(Path(path))


@functools.lru_cache(maxsize=1)
def _shipped() -> dict[str, ModelSpec]:
    return _read(default_registry_path())


def _read(path: Path) -> dict[str, ModelSpec]:
    if not path.is_file():
        raise RegistryError(f"{path}: no such registry file")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise RegistryError(
            f"{path}: a registry is a YAML mapping with a `models:` mapping of name -> entry"
        )
    specs = {name: _check_entry(name, entry, str(path)) for name, entry in data["models"].items()}
    seen: dict[str, str] = {}
    for spec in specs.values():
        for key in {spec.name, spec.hub_id, *spec.aliases}:
            if seen.setdefault(key, spec.name) != spec.name:
                raise RegistryError(f"{path}: {key!r} names both {seen[key]!r} and {spec.name!r}")
    return specs


def lookup(name: str, registry: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    """The entry whose name, hub id or alias is `name` (None if none is)."""
    registry = _shipped() if registry is None else registry
    if name in registry:
        return registry[name]
    for spec in registry.values():
        if name == spec.hub_id or name in spec.aliases:
            return spec
    return None


def spec_for(name_or_path: str, registry: dict[str, ModelSpec] | None = None) -> ModelSpec:
    """The registry entry of `name_or_path`, or an ad-hoc spec for an unlisted hub id or
    folder (family "auto": the loader reads it from the config). An unknown `local:` name
    is an error listing the local models."""
    if not isinstance(name_or_path, str) or not name_or_path:
        raise RegistryError(
            f"model must be a registry name, a hub id, a folder or "
            f"local:<name>, got {name_or_path!r}"
        )
    spec = lookup(name_or_path, registry)
    if spec is not None:
        return spec
    if name_or_path.startswith(LOCAL_PREFIX):
        local = [
            s.hub_id for s in (registry or _shipped()).values() if s.hub_id.startswith(LOCAL_PREFIX)
        ]
        raise RegistryError(f"unknown local model {name_or_path!r}; available: {', '.join(local)}")
    return ModelSpec(
        name=name_or_path,
        hub_id=name_or_path,
        type="encoder",
        family="auto",
        registered=False,
        notes="not in genobench's registry: family read from config.model_type",
    )


def select_models(registry: dict[str, ModelSpec], names: list[str]) -> list[ModelSpec]:
    """The registry entries for `names`, in that order; an unknown name is an error."""
    unknown = [n for n in names if lookup(n, registry) is None]
    if unknown:
        raise RegistryError(
            f"model(s) {', '.join(map(repr, unknown))} not in the registry; "
            f"known: {', '.join(registry)}"
        )
    return [lookup(n, registry) for n in names]
