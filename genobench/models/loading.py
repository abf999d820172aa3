"""Load a `transformers` model in one of the quantization modes, with its tokenizer.

`load_model(name_or_path, quant_mode, device, dtype)` is the one way benchmarks load
hub models, local checkpoints and genobench's own `local:<name>` stand-ins:

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
library's own message, so a benchmark can report the mode as skipped with that
reason instead of crashing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genobench.models.local import LOCAL_PREFIX, resolve_model

STANDARD = "standard"
# mode -> BitsAndBytesConfig keyword arguments (None: not quantized)
QUANT_MODES: dict[str, dict[str, Any] | None] = {
    STANDARD: None,
    "8bit": dict(load_in_8bit=True),
    "4bit_nf4": dict(load_in_4bit=True, bnb_4bit_quant_type="nf4"),
    "4bit_fp4": dict(load_in_4bit=True, bnb_4bit_quant_type="fp4"),
    "4bit_nf4_double": dict(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                            bnb_4bit_use_double_quant=True),
}
MODE_DESCRIPTIONS = {
    STANDARD: "unquantized (fp16 on GPU, fp32 on CPU unless dtype is given)",
    "8bit": "LLM.int8 weights (bitsandbytes), outliers in fp16",
    "4bit_nf4": "4-bit NormalFloat weights, blockwise absmax",
    "4bit_fp4": "4-bit float weights, blockwise absmax",
    "4bit_nf4_double": "4-bit NF4 with double quantization of the absmax constants",
}
HEADS = ("auto", "causal", "masked", "none")
_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
           "fp16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
           "bf16": torch.bfloat16}


class ModelLoadError(ValueError):
    """A model that cannot be found or loaded; the message says what to fix."""


class ModeUnavailable(RuntimeError):
    """A quantization mode this install or device cannot run; `reason` is the library's word."""

    def __init__(self, mode: str, reason: str):
        super().__init__(f"quantization mode {mode!r} is unavailable here: {reason}")
        self.mode = mode
        self.reason = reason


@dataclass(frozen=True)
class RegistryEntry:
    """One model of a params registry: where it lives and how it is loaded."""

    name: str
    hub_id: str
    family: str = "unknown"
    trust_remote_code: bool = False
    head: str = "auto"


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known quantization mode, else raise ValueError listing them."""
    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantization mode {mode!r}; choose from "
                         f"{', '.join(QUANT_MODES)}")
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
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, float16 or "
                         "bfloat16") from None


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
    for logger_name, prefix in (("bitsandbytes.autograd._functions", "MatMul8bitLt: inputs"),
                                ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm")):
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
    return (name.startswith(("/", "./", "../", "~")) or os.path.isabs(name)
            or Path(name).expanduser().exists())


def resolve_source(name_or_path: str) -> str:
    """`local:<name>` -> its built folder; a local path must exist; hub ids pass through."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path):
        raise ModelLoadError(f"model must be a hub id, a folder or local:<name>, "
                             f"got {name_or_path!r}")
    name = str(name_or_path)
    if name.startswith(LOCAL_PREFIX):
        try:
            return resolve_model(name)
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from None
    if is_path_like(name):
        path = Path(name).expanduser()
        if not path.is_dir():
            raise ModelLoadError(f"model path {name!r} does not exist or is not a folder; pass "
                                 "a folder saved with save_pretrained, a hub id (org/name) or "
                                 "local:<name>")
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"model folder {name!r} has no config.json; is it a "
                                 "save_pretrained folder?")
        return str(path)
    return name


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
    return {"causal": AutoModelForCausalLM, "masked": AutoModelForMaskedLM,
            "none": AutoModel}[head]


def load_model(name_or_path: str, quant_mode: str = STANDARD, device: str = "cpu",
               dtype: str | torch.dtype | None = "auto", head: str = "auto",
               trust_remote_code: bool = False, progress: bool = False):
    """Load a model in `quant_mode` on `device` and its tokenizer -> (model, tokenizer).

    `name_or_path`: a hub id, a `save_pretrained` folder or `local:<name>`. `dtype`: the
    dtype of unquantized weights and the 4-bit compute dtype ("auto": fp16 on GPU, fp32
    on CPU). The model is in eval mode. Raises ValueError for an unknown mode, head or
    dtype, ModelLoadError for a missing or unloadable model, and ModeUnavailable when
    this install or device cannot run the mode (with the library's reason).
    """
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    check_mode(quant_mode)
    torch_dtype = resolve_dtype(dtype, device)
    source = resolve_source(name_or_path)
    reason = _bitsandbytes_reason(quant_mode, device)
    if reason:
        raise ModeUnavailable(quant_mode, reason)
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load {name_or_path!r}: {exc}") from exc
    cls = _model_class(config, head)
    kwargs: dict[str, Any] = dict(dtype=torch_dtype, trust_remote_code=trust_remote_code,
                                  device_map={"": str(device)})
    qconfig = quantization_config(quant_mode, torch_dtype)
    if qconfig is not None:
        quiet_bitsandbytes()
        kwargs["quantization_config"] = qconfig
    was_enabled = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        model = cls.from_pretrained(source, **kwargs)
    except (ImportError, NotImplementedError, RuntimeError) as exc:
        if qconfig is None:
            raise
        raise ModeUnavailable(quant_mode, f"{type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise ModelLoadError(f"cannot load weights of {name_or_path!r}: {exc}") from exc
    finally:
        if was_enabled and not progress:
            hf_logging.enable_progress_bar()
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return model, tokenizer


def registry_entry(model: str, registry: dict[str, dict] | None = None) -> RegistryEntry:
    """The registry entry named `model`, or an ad-hoc entry for a hub id, path or local:<name>.

    A registry (from params) maps a short name to {hub_id, family, trust_remote_code,
    head}; only hub_id is required.
    """
    registry = registry or {}
    if model in registry:
        spec = dict(registry[model] or {})
        if "hub_id" not in spec:
            raise ModelLoadError(f"registry entry {model!r} has no hub_id")
        unknown = set(spec) - {"hub_id", "family", "trust_remote_code", "head"}
        if unknown:
            raise ModelLoadError(f"registry entry {model!r}: unknown key(s) "
                                 f"{', '.join(sorted(unknown))}; allowed: hub_id, family, "
                                 "trust_remote_code, head")
        return RegistryEntry(name=model, **spec)
    return RegistryEntry(name=model, hub_id=model)
