"""ESM2 protein encoders: local ESM2-architecture checkpoints, eager vs SDPA attention, and
residue-only mean pooling.

`transformers` 5.23 implements ESM attention through its attention-function registry:
`EsmPreTrainedModel` declares `_supports_sdpa = True` and `EsmSelfAttention` calls
`ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)`.
So `from_pretrained(path, attn_implementation="eager")` runs the reference
matmul-softmax-matmul attention and `attn_implementation="sdpa"` runs
`torch.nn.functional.scaled_dot_product_attention`, both on the same weights (the
default, when nothing is asked, is SDPA). That is the FastESM idea (ESM2 with PyTorch
SDPA) inside the stock class, so no separate module is needed for the local comparison;
a hub "fast" model such as `Synthyra/FastESM2_650` is its own remote-code class and is
loaded as it comes (`attn_implementation=None`, `trust_remote_code=True`).

Local stand-ins have the real ESM2 configuration (rotary positions, token dropout
scaling, 33-token vocabulary saved with the model as an `EsmTokenizer` vocab.txt) at
the shapes of `facebook/esm2_t6_8M_UR50D` and `esm2_t12_35M_UR50D`, with random weights
from a fixed seed: the same name always gives the same weights.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import (AutoModel, AutoTokenizer, EsmConfig, EsmForMaskedLM, EsmTokenizer)
from transformers.utils import logging as hf_logging

from genobench.models.embed import length_sorted_batches, mean_pool
from genobench.models.local import LOCAL_PREFIX, resolve_model
from genobench.paths import cache_dir

# The ESM-2 vocabulary, in facebook/esm2_*'s vocab.txt order (33 tokens).
ESM_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-",
             "<null_1>", "<mask>"]

# name -> shape; the last two are the shapes of facebook/esm2_t6_8M_UR50D and
# facebook/esm2_t12_35M_UR50D (hidden, layers, heads; intermediate = 4 x hidden).
LOCAL_ESM_MODELS = {
    "esm2-tiny": dict(hidden_size=64, num_layers=2, num_heads=4),
    "esm2-t6-8m": dict(hidden_size=320, num_layers=6, num_heads=20),
    "esm2-t12-35m": dict(hidden_size=480, num_layers=12, num_heads=20),
}
ATTENTION_CHOICES = ("eager", "sdpa", None)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class ModelUnavailable(RuntimeError):
    """A model that could not be loaded (missing, offline, out of memory): the reason."""


def esm_tokenizer(folder: str | Path) -> EsmTokenizer:
    """The ESM-2 tokenizer, its vocab.txt written into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    return EsmTokenizer(str(vocab))


def esm_config(hidden_size: int, num_layers: int, num_heads: int,
               max_positions: int = 1026) -> EsmConfig:
    """An ESM-2 configuration (as in facebook/esm2_*) of the given shape."""
    return EsmConfig(vocab_size=len(ESM_VOCAB), mask_token_id=ESM_VOCAB.index("<mask>"),
                     pad_token_id=ESM_VOCAB.index("<pad>"), hidden_size=hidden_size,
                     num_hidden_layers=num_layers, num_attention_heads=num_heads,
                     intermediate_size=4 * hidden_size, hidden_act="gelu",
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     max_position_embeddings=max_positions, layer_norm_eps=1e-5,
                     position_embedding_type="rotary", emb_layer_norm_before=False,
                     token_dropout=True, architectures=["EsmForMaskedLM"])


def build_local_esm(path: str | Path, hidden_size: int = 64, num_layers: int = 2,
                    num_heads: int = 4, seed: int = 0) -> Path:
    """Save a random-initialised EsmForMaskedLM and its tokenizer into `path`."""
    path = Path(path)
    tokenizer = esm_tokenizer(path)
    torch.manual_seed(seed)
    model = EsmForMaskedLM(esm_config(hidden_size, num_layers, num_heads))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def local_esm_path(name: str) -> Path:
    """Path of a named local ESM checkpoint (see LOCAL_ESM_MODELS), built on first use."""
    if name not in LOCAL_ESM_MODELS:
        raise ValueError(f"unknown local ESM model {name!r}; available: "
                         f"{', '.join(LOCAL_ESM_MODELS)}")
    path = cache_dir() / "models" / name
    if not (path / "config.json").exists():
        tmp = path.with_name(path.name + ".building")
        build_local_esm(tmp, **LOCAL_ESM_MODELS[name])
        if not (path / "config.json").exists():
            tmp.rename(path)
    return path


def resolve_esm(name_or_path: str) -> str:
    """`local:esm2-*` -> the built folder; other `local:` names, hub ids and paths as
    `genobench.models.local.resolve_model` resolves them."""
    if name_or_path.startswith(LOCAL_PREFIX):
        name = name_or_path[len(LOCAL_PREFIX):]
        if name in LOCAL_ESM_MODELS:
            return str(local_esm_path(name))
    return resolve_model(name_or_path)


def residue_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 special_ids) -> torch.Tensor:
    """1 where a token is a residue: attended to and not one of `special_ids` (BOS/CLS,
    EOS, padding)."""
    keep = attention_mask.bool()
    for tid in special_ids:
        keep &= input_ids != tid
    return keep.to(attention_mask.dtype)


@contextlib.contextmanager
def _quiet_transformers():
    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(old)


class EsmEncoder:
    """An ESM-family model (hub id, local path or `local:<name>`) that embeds proteins.

    `attention` is the `attn_implementation` asked of `from_pretrained` ("eager",
    "sdpa"), or None to load the model as it comes (remote-code models).
    """

    def __init__(self, name_or_path: str, attention: str | None = "sdpa", device: str = "cpu",
                 dtype: str | torch.dtype = "float32", trust_remote_code: bool = False):
        if attention not in ATTENTION_CHOICES:
            raise ValueError(f"attention must be one of {ATTENTION_CHOICES}, got {attention!r}")
        if isinstance(dtype, str):
            if dtype not in DTYPES:
                raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
            dtype = DTYPES[dtype]
        self.name = name_or_path
        self.attention = attention
        self.device = device
        try:
            self.path = resolve_esm(name_or_path)
            kwargs = dict(dtype=dtype, trust_remote_code=trust_remote_code,
                          output_loading_info=True)
            if attention is not None:
                kwargs["attn_implementation"] = attention
            with _quiet_transformers():
                config = _load_config(self.path, trust_remote_code)
                if getattr(config, "model_type", None) == "esm":
                    kwargs["add_pooling_layer"] = False  # pooler is unused; not in checkpoints
                model, info = AutoModel.from_pretrained(self.path, **kwargs)
            self.model = model.to(device).eval()
            self.tokenizer = getattr(model, "tokenizer", None) or AutoTokenizer.from_pretrained(
                self.path, trust_remote_code=trust_remote_code)
        except Exception as exc:  # offline, missing, too big for the device, bad code
            raise ModelUnavailable(f"{name_or_path} ({attention or 'as shipped'}): "
                                   f"{type(exc).__name__}: {exc}".strip()) from exc
        self.missing_keys = list(info.get("missing_keys", []))
        self.attn_implementation = getattr(self.model.config, "_attn_implementation", None)
        if attention is not None and self.attn_implementation != attention:
            raise ModelUnavailable(f"{name_or_path}: asked for {attention} attention, "
                                   f"transformers selected {self.attn_implementation}")
        tok = self.tokenizer
        self.special_ids = sorted({t for t in (tok.cls_token_id, tok.bos_token_id,
                                               tok.eos_token_id, tok.sep_token_id,
                                               tok.pad_token_id) if t is not None})

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def label(self) -> str:
        return f"{self.name} [{self.attn_implementation or 'as shipped'}]"

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def tokenize(self, seqs: list[str], max_length: int = 1024) -> dict[str, torch.Tensor]:
        """Padded tokens of `seqs` on the device, with `residue_mask` added."""
        enc = self.tokenizer(list(seqs), padding=True, truncation=True, max_length=max_length,
                             return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids",
                                                                      "attention_mask")}
        enc["residue_mask"] = residue_mask(enc["input_ids"], enc["attention_mask"],
                                           self.special_ids)
        return enc

    @torch.inference_mode()
    def pool(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """Forward pass and residue-only mean pooling: (batch, hidden) float32 on the CPU."""
        hidden = self.model(input_ids=enc["input_ids"],
                            attention_mask=enc["attention_mask"]).last_hidden_state
        return mean_pool(hidden.float(), enc["residue_mask"]).cpu()

    def embed(self, seqs: list[str], batch_size: int = 8, max_length: int = 1024,
              progress: bool = True) -> np.ndarray:
        """Residue-mean-pooled last hidden state (n, hidden) per sequence, in input order."""
        out = np.zeros((len(seqs), self.hidden_size), dtype=np.float32)
        batches = length_sorted_batches([len(s) for s in seqs], batch_size)
        for idx in tqdm(batches, desc=f"embed {self.label}", disable=not progress):
            out[idx] = self.pool(self.tokenize([seqs[i] for i in idx], max_length)).numpy()
        return out

    def release(self) -> None:
        """Drop the weights (and empty the CUDA cache) before the next model is loaded."""
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _load_config(path: str, trust_remote_code: bool):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)


def row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of matching rows of two (n, d) arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"embeddings of different shapes {a.shape} and {b.shape} cannot be "
                         "compared row by row")
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-30)
