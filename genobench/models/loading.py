"""The one loader: every benchmark loads its models here, the only `from_pretrained` site.

`load(name, quant_mode, device, dtype)` takes a registry name, an alias, a hub id, a
`save_pretrained` folder or `local:<name>` (built on first use), resolves its registry
entry (`genobench.models.registry`; an unlisted id gets its family from
`config.model_type`, with a note), checks the packages the entry needs, applies the
family's adapter to remote code (`genobench.models.adapters`) and loads model and
tokenizer on `device` in one quantization mode:

| mode              | weights                        | `BitsAndBytesConfig`               |
|-------------------|--------------------------------|------------------------------------|
| `standard`        | unquantized (fp16 GPU/fp32 CPU)| none, `dtype=...`                  |
| `8bit`            | LLM.int8                       | `load_in_8bit=True`                |
| `4bit_nf4`        | 4-bit NormalFloat              | `load_in_4bit`, `quant_type="nf4"` |
| `4bit_fp4`        | 4-bit float                    | `load_in_4bit`, `quant_type="fp4"` |
| `4bit_nf4_double` | NF4, quantized absmax          | ... + `use_double_quant=True`      |

The 4-bit modes compute in `dtype` (`bnb_4bit_compute_dtype`). The head is
optional: `head="auto"` picks the causal- or masked-LM class the checkpoint was
saved with (its `config.architectures`) and falls back to the bare encoder
(`AutoModel`); `"causal"`, `"masked"` or `"none"` force one.

A mode this install or device cannot run raises `ModeUnavailable` carrying the
library's own message (a benchmark reports the mode as skipped with that reason); any
other failure raises `ModelLoadError` (or `MissingPackage`) with the fix when known, or
the library's own error, which a benchmark reports as a failed row.

Batches are padded by genobench itself (`pad_batch`): right padding, the attention mask
from the sequence lengths, so tokenizers without a pad token or without an
`attention_mask` output batch too; `forward` passes only the arguments a model's
`forward` declares and reads hidden states and logits from outputs and tuples alike.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import os
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genobench.models.adapters import MODEL_TYPE_FAMILIES, PACKAGE_FIXES, adapter_for
from genobench.models.registry import (
    BASELINES,
    HEADS,
    LOCAL_PREFIX,
    ModelSpec,
    RegistryError,
    spec_for,
)

STANDARD = "standard"
# mode -> BitsAndBytesConfig keyword arguments (None: not quantized)
QUANT_MODES: dict[str, dict[str, Any] | None] = {
    STANDARD: None,
    "8bit": dict(load_in_8bit=True),
    "4bit_nf4": dict(load_in_4bit=True, bnb_4bit_quant_type="nf4"),
    "4bit_fp4": dict(load_in_4bit=True, bnb_4bit_quant_type="fp4"),
    "4bit_nf4_double": dict(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True
    ),
}
MODE_DESCRIPTIONS = {
    STANDARD: "unquantized (fp16 on GPU, fp32 on CPU unless dtype is given)",
    "8bit": "LLM.int8 weights (bitsandbytes), outliers in fp16",
    "4bit_nf4": "4-bit NormalFloat weights, blockwise absmax",
    "4bit_fp4": "4-bit float weights, blockwise absmax",
    "4bit_nf4_double": "4-bit NF4 with double quantization of the absmax constants",
}
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


class ModelLoadError(ValueError):
    """A model that cannot be found or loaded; the message says what to fix."""


class ModeUnavailable(RuntimeError):
    """A quantization mode this install or device cannot run; `reason` is the library's word."""

    def __init__(self, mode: str, reason: str):
        super().__init__(f"quantization mode {mode!r} is unavailable here: {reason}")
        self.mode = mode
        self.reason = reason


class MissingPackage(ModelLoadError):
    """A package the model's code needs is not installed; names it and how to get it."""

    def __init__(self, model: str, packages: list[str]):
        fixes = "; ".join(
            f"{p} ({PACKAGE_FIXES[p][1]})" if p in PACKAGE_FIXES else p for p in packages
        )
        super().__init__(f"{model} needs {', '.join(packages)}, which is not installed: {fixes}")
        self.packages = packages


@dataclass
class Loaded:
    """A loaded model with its tokenizer, registry entry and what the loader noticed."""

    model: Any
    tokenizer: Any
    spec: ModelSpec
    source: str  # the folder or hub id loaded
    family: str
    embedding_dim: int | None
    missing_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known quantization mode, else raise ValueError listing them."""
    if mode not in QUANT_MODES:
        raise ValueError(
            f"unknown quantization mode {mode!r}; choose from {', '.join(QUANT_MODES)}"
        )
    return mode


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """`None`/"auto": fp16 on a GPU, fp32 on CPU; else the named or given torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        return torch.float16 if str(device).startswith("cuda") else torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(
            f"unknown dtype {dtype!r}; use auto, float32, float16 or bfloat16"
        ) from None


def quantization_config(mode: str, compute_dtype: torch.dtype = torch.float32):
    """The `BitsAndBytesConfig` of `mode` (None for `standard`)."""
    settings = QUANT_MODES[check_mode(mode)]
    if settings is None:
        return None
    from transformers import BitsAndBytesConfig

    if settings.get("load_in_4bit"):
        settings = {**settings, "bnb_4bit_compute_dtype": compute_dtype}
    return BitsAndBytesConfig(**settings)


class _DropMessages(logging.Filter):
    def __init__(self, *prefixes: str):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quiet_bitsandbytes() -> None:
    """Drop two bitsandbytes log lines that repeat on every CPU forward or import.

    "MatMul8bitLt: inputs will be cast ..." (8-bit on fp32 inputs: expected, logged per
    layer and call) and "Failed to load CPU gemm_4bit_forward from kernels-community"
    (the optional fused CPU 4-bit kernel is not installed; the portable path is used).
    """
    for logger_name, prefix in (
        ("bitsandbytes.autograd._functions", "MatMul8bitLt: inputs"),
        ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm"),
    ):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefix))
    warnings.filterwarnings("ignore", message=".*MatMul8bitLt: inputs will be cast.*")


def _bitsandbytes_reason(mode: str, device: str) -> str | None:
    """Why `mode` cannot run here before trying (None when it may)."""
    if QUANT_MODES[mode] is None:
        return None
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (pip install bitsandbytes)"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        return "device is cuda but torch sees no CUDA GPU"
    return None


def is_path_like(name: str) -> bool:
    """True for names that can only mean a local folder (absolute, ./, ../, ~ or existing)."""
    return (
        name.startswith(("/", "./", "../", "~"))
        or os.path.isabs(name)
        or Path(name).expanduser().exists()
    )


def resolve_source(name_or_path: str, spec: ModelSpec | None = None, **local) -> str:
    """The folder or hub id to load: `local:<name>` -> its built folder (`local` are
    `genobench.models.local.local_model_path` arguments); a path must be a
    save_pretrained folder; hub ids pass through."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path):
        raise ModelLoadError(
            f"model must be a registry name, a hub id, a folder or "
            f"local:<name>, got {name_or_path!r}"
        )
    name = str(name_or_path)
    spec = spec or _spec(name)
    if spec.hub_id.startswith(LOCAL_PREFIX):
        from genobench.models.local import local_model_path

        return str(local_model_path(spec.hub_id[len(LOCAL_PREFIX) :], **local))
    if is_path_like(name):
        path = Path(name).expanduser()
        if not path.is_dir():
            raise ModelLoadError(
                f"model path {name!r} does not exist or is not a folder; pass "
                "a folder saved with save_pretrained, a hub id (org/name), a "
                "registry name or local:<name>"
            )
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {name!r} has no config.json; is it a save_pretrained folder?"
            )
        return str(path)
    return spec.hub_id


def _spec(name: str) -> ModelSpec:
    try:
        return spec_for(name)
    except RegistryError as exc:
        raise ModelLoadError(str(exc)) from None


def _model_class(config, head: str):
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose from {', '.join(HEADS)}")
    if head == "auto":
        archs = getattr(config, "architectures", None) or []
        if any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs):
            head = "causal"
        elif any(a.endswith("ForMaskedLM") for a in archs):
            head = "masked"
        else:
            head = "none"
    return {"causal": AutoModelForCausalLM, "masked": AutoModelForMaskedLM, "none": AutoModel}[head]


def embedding_size(config, spec: ModelSpec | None = None) -> int | None:
    """Width of the last hidden state: the config's hidden_size, d_model or n_embd (remote
    SSM configs such as HyenaDNA's and Caduceus's have d_model only), else the registry's."""
    for key in ("hidden_size", "d_model", "n_embd"):
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return spec.embedding_dim if spec is not None else None


def _missing_packages(spec: ModelSpec) -> list[str]:
    return [p for p in spec.packages if importlib.util.find_spec(p) is None]


def from_bitsandbytes(exc: BaseException) -> bool:
    """True when `exc` is bitsandbytes' own refusal: raised inside bitsandbytes or
    transformers' bnb quantizer, or a message about bitsandbytes."""
    frames = traceback.extract_tb(exc.__traceback__)
    return "bitsandbytes" in str(exc) or any(
        "bitsandbytes" in f.filename or "quantizer_bnb" in f.filename for f in frames
    )


def _missing_names(exc: ImportError) -> list[str]:
    """The packages an ImportError says are missing (transformers' check of remote code
    lists them after "not found in your environment:")."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return [exc.name.split(".")[0]]
    text = str(exc)
    marker = "not found in your environment:"
    if marker in text:
        listed = text.split(marker, 1)[1].split(". Run", 1)[0]
        return [p.strip() for p in listed.split(",") if p.strip()]
    return []


@contextlib.contextmanager
def _quiet(progress: bool):
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # e.g. a causal LM loaded headless, unused pooler
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars and not progress:
            hf_logging.enable_progress_bar()


def _remote_classes(refs: list[str], source: str, revision: str | None) -> list[type]:
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    return [
        get_class_from_dynamic_module(ref, source, revision=revision)
        for ref in dict.fromkeys(refs)
        if ref
    ]


def _patch_remote_code(adapter, config, source: str, revision: str | None) -> None:
    """Import the checkpoint's remote modelling and tokenizer classes and let the family's
    adapter change them before anything is built from them."""
    from transformers.models.auto.tokenization_auto import get_tokenizer_config

    auto_map = dict(getattr(config, "auto_map", None) or {})
    model_refs = [ref for key, ref in auto_map.items() if key.startswith("AutoModel")]
    classes = _remote_classes(model_refs, source, revision)
    adapter.patch_modules(
        list({id(m): m for m in (sys.modules[c.__module__] for c in classes)}.values())
    )
    tok_map = dict(get_tokenizer_config(source, revision=revision).get("auto_map") or {})
    refs = tok_map.get("AutoTokenizer") or auto_map.get("AutoTokenizer") or []
    for cls in _remote_classes(
        list(refs) if isinstance(refs, (list, tuple)) else [refs], source, revision
    ):
        adapter.patch_tokenizer_class(cls)


def _loadable(name_or_path: str | ModelSpec) -> tuple[ModelSpec, str]:
    """The registry entry of a model to load and the name to resolve; raises for a
    classical baseline and for packages its code needs that are not installed."""
    spec = name_or_path if isinstance(name_or_path, ModelSpec) else _spec(str(name_or_path))
    if spec.family in BASELINES:
        raise ModelLoadError(
            f"{spec.name} is a classical baseline, not a neural network; "
            "it has no checkpoint to load"
        )
    missing = _missing_packages(spec)
    if missing:
        raise MissingPackage(spec.name, missing)
    return spec, spec.hub_id if isinstance(name_or_path, ModelSpec) else str(name_or_path)


def _checkpoint_config(
    name: str, spec: ModelSpec, source: str, trust: bool
) -> tuple[Any, str, list[str]]:
    """The checkpoint's config (its family's adapter applied), the family (from
    `config.model_type` for an entry without one) and the loader's notes."""
    from transformers import AutoConfig

    notes = [] if spec.registered else [spec.notes]
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust, revision=spec.revision)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load {name!r}: {exc}; with HF_HUB_OFFLINE=1 "
            f"the hub cache must hold {spec.offline_cache or spec.hub_id}"
        ) from exc
    family = spec.family
    if family == "auto":
        family = MODEL_TYPE_FAMILIES.get(getattr(config, "model_type", ""), "auto")
        notes.append(
            f"family {family!r} from config.model_type {getattr(config, 'model_type', None)!r}"
        )
    adapter_for(family).patch_config(config)
    return config, family, notes


def load(
    name_or_path: str | ModelSpec,
    quant_mode: str = STANDARD,
    device: str = "cpu",
    dtype: str | torch.dtype | None = None,
    head: str | None = None,
    trust_remote_code: bool | None = None,
    attention: str | None = None,
    progress: bool = False,
    reference: dict[str, str] | None = None,
    seed: int = 0,
    standin: dict | None = None,
) -> Loaded:
    """Load a model (a name, id, folder, `local:<name>` or a `ModelSpec`) in `quant_mode` on
    `device` with its tokenizer -> `Loaded`.

    `dtype`, `head` and `trust_remote_code` default to the registry entry's (dtype per
    device; "auto": fp16 on GPU, fp32 on CPU); `attention` asks for an
    `attn_implementation` ("eager", "sdpa"). `reference`, `seed`, `standin`: for a
    stand-in trained on a reference genome. The model is in eval mode. Raises ValueError
    for an unknown mode, head or dtype; ModelLoadError (MissingPackage) for a model that
    cannot be found or built; ModeUnavailable when this install or device cannot run
    the mode (with bitsandbytes' reason); other errors are the library's own.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerBase

    check_mode(quant_mode)
    spec, name_or_path = _loadable(name_or_path)
    trust = spec.trust_remote_code if trust_remote_code is None else trust_remote_code
    torch_dtype = resolve_dtype(
        dtype if dtype not in (None, "auto") else spec.dtype_for(device), device
    )
    head = head or spec.head
    reason = _bitsandbytes_reason(quant_mode, device)
    if reason:
        raise ModeUnavailable(quant_mode, reason)
    source = resolve_source(
        str(name_or_path),
        spec,
        **(
            dict(reference=reference, seed=seed, standin=standin, progress=progress)
            if spec.standin
            else {}
        ),
    )
    config, family, notes = _checkpoint_config(name_or_path, spec, source, trust)
    adapter = adapter_for(family)
    cls = _model_class(config, head)
    kwargs: dict[str, Any] = dict(
        config=config,
        dtype=torch_dtype,
        trust_remote_code=trust,
        device_map={"": str(device)},
        revision=spec.revision,
        output_loading_info=True,
    )
    if attention is not None:
        kwargs["attn_implementation"] = attention
    if getattr(config, "model_type", None) == "esm" and cls.__name__ == "AutoModel":
        kwargs["add_pooling_layer"] = False  # the pooler is unused and not in checkpoints
    qconfig = quantization_config(quant_mode, torch_dtype)
    if qconfig is not None:
        quiet_bitsandbytes()
        kwargs["quantization_config"] = qconfig
    with _quiet(progress):
        try:
            if trust:
                adapter.before_import()
                _patch_remote_code(adapter, config, source, spec.revision)
            model, info = cls.from_pretrained(source, **kwargs)
        except (ImportError, NotImplementedError, RuntimeError, ValueError) as exc:
            if qconfig is not None and from_bitsandbytes(exc):
                raise ModeUnavailable(quant_mode, f"{type(exc).__name__}: {exc}") from exc
            if isinstance(exc, ImportError) and _missing_names(exc):
                raise MissingPackage(spec.name, _missing_names(exc)) from exc
            raise
        except OSError as exc:
            raise ModelLoadError(f"cannot load weights of {name_or_path!r}: {exc}") from exc
        own = getattr(model, "tokenizer", None)  # FastESM2 builds its tokenizer in its code
        tokenizer = (
            own
            if isinstance(own, PreTrainedTokenizerBase)
            else AutoTokenizer.from_pretrained(
                source, trust_remote_code=trust, revision=spec.revision
            )
        )
    model.eval()
    return Loaded(
        model=model,
        tokenizer=tokenizer,
        spec=spec,
        source=source,
        family=family,
        embedding_dim=embedding_size(model.config, spec),
        missing_keys=list(info.get("missing_keys", [])),
        notes=notes,
    )


def load_tokenizer(name_or_path: str | ModelSpec, trust_remote_code: bool | None = None):
    """The tokenizer of a model (a name, id, folder, `local:<name>`, built on first use, or a
    `ModelSpec`), read from its checkpoint without loading the weights; remote tokenizer
    code gets its family's adapter as in `load`. (FastESM2 builds its tokenizer inside its
    model class and ships none: use `load` for it.)"""
    from transformers import AutoTokenizer

    spec, name = _loadable(name_or_path)
    trust = spec.trust_remote_code if trust_remote_code is None else trust_remote_code
    source = resolve_source(name, spec)
    config, family, _ = _checkpoint_config(name, spec, source, trust)
    with _quiet(progress=False):
        if trust:
            adapter = adapter_for(family)
            adapter.before_import()
            _patch_remote_code(adapter, config, source, spec.revision)
        return AutoTokenizer.from_pretrained(
            source, trust_remote_code=trust, revision=spec.revision
        )


def load_model(
    name_or_path: str,
    quant_mode: str = STANDARD,
    device: str = "cpu",
    dtype: str | torch.dtype | None = None,
    head: str | None = None,
    trust_remote_code: bool | None = None,
    progress: bool = False,
):
    """`load(...)` -> (model, tokenizer), for callers that need nothing else."""
    loaded = load(
        name_or_path, quant_mode, device, dtype, head, trust_remote_code, progress=progress
    )
    return loaded.model, loaded.tokenizer


def pad_batch(
    tokenizer,
    seqs: list[str],
    max_length: int | None = None,
    special_tokens_mask: bool = False,
    offsets: bool = False,
) -> dict[str, Any]:
    """Tokenize `seqs` and pad them on the right -> input_ids, attention_mask (B, T) tensors,
    and optionally special_tokens_mask (padding counts as special) and offset_mapping
    (a list of (n_tokens, 2) arrays; fast tokenizers only, else None).

    The attention mask comes from each sequence's token count, never from the tokenizer,
    and padding uses the tokenizer's pad id, or 0 when it has none (padded positions are
    masked out of every score and pooled embedding).
    """
    kwargs: dict[str, Any] = dict(truncation=max_length is not None, max_length=max_length)
    if special_tokens_mask:
        kwargs["return_special_tokens_mask"] = True
    fast = bool(getattr(tokenizer, "is_fast", False))
    if offsets and fast:
        kwargs["return_offsets_mapping"] = True
    enc = tokenizer(list(seqs), **kwargs)
    rows = enc["input_ids"]
    if not rows:
        raise ValueError("no sequences to tokenize")
    width = max(len(r) for r in rows)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        attention[i, : len(row)] = 1
    out: dict[str, Any] = {"input_ids": ids, "attention_mask": attention}
    if special_tokens_mask:
        special = torch.ones((len(rows), width), dtype=torch.long)
        for i, row in enumerate(enc["special_tokens_mask"]):
            special[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        out["special_tokens_mask"] = special
    if offsets:
        out["offset_mapping"] = (
            [np.asarray(o, dtype=np.int64).reshape(-1, 2) for o in enc["offset_mapping"]]
            if fast
            else None
        )
    return out


def _accepts(model, name: str) -> bool:
    params = inspect.signature(model.forward).parameters
    return name in params or (
        name == "output_hidden_states"
        and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        and model.__class__.__module__.startswith("transformers.")
    )


def forward(
    model, batch: dict[str, torch.Tensor], want_hidden: bool = True, want_logits: bool = False
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(last-layer hidden states, logits) of one right-padded batch, float, on the model's
    device; padded positions of the outputs are zeros when the model takes no mask.

    Passes `attention_mask` and (to models with an LM head) `output_hidden_states` only
    when the model's `forward` declares them. A model without an `attention_mask`
    argument (Caduceus, HyenaDNA, Evo-1) would see the padding (a bidirectional model's
    real tokens depend on it), so a padded batch is run one sequence at a time on its real
    tokens, as the mask derived from the lengths says. Reads `last_hidden_state`,
    `hidden_states[-1]` or the first element of a tuple output (DNABERT-2 returns
    (hidden, pooled)); logits from `.logits` or a tuple's first element. Call it under
    `torch.inference_mode()` when no gradients are wanted.
    """
    mask = batch.get("attention_mask")
    if mask is not None and not _accepts(model, "attention_mask") and not bool(mask.all()):
        return _forward_unpadded(model, batch["input_ids"], mask, want_hidden, want_logits)
    device = next(model.parameters()).device
    inputs = {"input_ids": batch["input_ids"].to(device)}
    if mask is not None and _accepts(model, "attention_mask"):
        inputs["attention_mask"] = mask.to(device)
    lm_head = type(model).__name__.endswith(("ForCausalLM", "ForMaskedLM", "LMHeadModel"))
    if want_hidden and lm_head and _accepts(model, "output_hidden_states"):
        inputs["output_hidden_states"] = True  # a bare encoder returns last_hidden_state
    out = model(**inputs)
    hidden = None
    if want_hidden:
        states = getattr(out, "hidden_states", None)
        if getattr(out, "last_hidden_state", None) is not None:
            hidden = out.last_hidden_state
        elif states is not None:
            hidden = states[-1]
        elif isinstance(out, (tuple, list)) and not want_logits:
            hidden = out[0]
        if hidden is None:
            raise RuntimeError(
                f"{type(model).__name__} returned no hidden states, so its "
                "embedding methods are unavailable"
            )
    logits = None
    if want_logits:
        logits = getattr(out, "logits", None)
        if logits is None and isinstance(out, (tuple, list)):
            logits = out[0]
        if logits is None:
            raise RuntimeError(f"{type(model).__name__} returned no logits")
    return (
        hidden.float() if hidden is not None else None,
        logits.float() if logits is not None else None,
    )


def _forward_unpadded(
    model, ids: torch.Tensor, mask: torch.Tensor, want_hidden: bool, want_logits: bool
):
    """`forward` of each row on its real tokens, outputs zero-padded back to (B, T, ...)."""
    rows = [
        forward(
            model, {"input_ids": ids[i : i + 1, : int(mask[i].sum())]}, want_hidden, want_logits
        )
        for i in range(len(ids))
    ]
    out = []
    for k in range(2):
        parts = [r[k] for r in rows]
        if parts[0] is None:
            out.append(None)
            continue
        full = parts[0].new_zeros((len(ids), ids.shape[1], *parts[0].shape[2:]))
        for i, part in enumerate(parts):
            full[i, : part.shape[1]] = part[0]
        out.append(full)
    return out[0], out[1]


def attention_used(model, batch: dict[str, torch.Tensor]) -> str:
    """The attention a forward really runs: "sdpa" when it calls
    `torch.nn.functional.scaled_dot_product_attention`, else the configured
    implementation ("eager" when that is unset or claims sdpa)."""
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    F.scaled_dot_product_attention = counting
    try:
        with torch.inference_mode():
            forward(
                model,
                {k: batch[k] for k in ("input_ids", "attention_mask") if k in batch},
                want_hidden=False,
            )
    finally:
        F.scaled_dot_product_attention = original
    if calls:
        return "sdpa"
    configured = getattr(model.config, "_attn_implementation", None)
    return "eager" if configured in (None, "sdpa") else configured
