"""Family adapters: the small changes that let published remote modelling code load and
score on genobench's pinned stack (transformers 5, torch 2.13, triton installed).

Each adapter answers one documented upstream behaviour and is applied by the one loader
(`genobench.models.loading`) at load time, before the remote module's classes are built:

- `before_import()`: put back names the remote module imports (before it is imported);
- `patch_config(config)`: fill config attributes the remote code reads;
- `patch_modules(modules)`: change the imported remote modelling modules;
- `patch_tokenizer_class(cls)`: change the remote tokenizer class before it is built.

Why patch at load rather than pin: the checkpoints' weights do not change, only their
Python code disagrees with current transformers/triton; pinning transformers 4 would
break the stock classes every other model uses, and older hub revisions exist only for
FastESM2 (and cannot be verified offline). Each patch checks for the exact upstream
pattern and changes nothing when it is absent, so a fixed upstream file loads as is.

Batching needs no adapter: genobench pads batches itself (`loading.pad_batch`) and
derives the attention mask from the sequence lengths, so tokenizers without an
`attention_mask` (Caduceus) or without a pad token (Evo-1's byte tokenizer) batch too.
Missing packages (`mamba_ssm`, `flash_attn`) are reported by name before loading.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType

import torch

# import name -> (pip name, the fix a user needs)
PACKAGE_FIXES = {
    "mamba_ssm": (
        "mamba-ssm",
        "it builds only with CUDA (nvcc): pip install -r requirements-gpu.txt on a GPU node",
    ),
    "flash_attn": (
        "flash-attn",
        "CUDA only: pip install flash-attn --no-build-isolation on a "
        "GPU node (a prebuilt wheel matching torch and CUDA)",
    ),
    "einops": ("einops", "pip install -r requirements.txt"),
}


class Adapter:
    """No change (stock transformers classes and well-behaved remote code)."""

    upstream = ""

    def before_import(self) -> None:
        pass

    def patch_config(self, config) -> None:
        pass

    def patch_modules(self, modules: list[ModuleType]) -> None:
        pass

    def patch_tokenizer_class(self, cls: type) -> None:
        pass


def _classes(modules: list[ModuleType], attribute: str) -> list[type]:
    """Classes defined in `modules` that have `attribute`."""
    return [
        obj
        for module in modules
        for obj in vars(module).values()
        if inspect.isclass(obj) and obj.__module__ == module.__name__ and hasattr(obj, attribute)
    ]


class DNABERT2(Adapter):
    """zhihan1996/DNABERT-2-117M (`bert_layers.py`).

    1. `BertEncoder.rebuild_alibi_tensor` builds its slopes with the legacy `torch.Tensor(
       list)` constructor, which ignores the default-device context, and multiplies them
       with an `arange` that follows it. transformers 5 builds models under
       `torch.device("meta")`, so init fails with "Tensor on device meta is not on the
       expected device cpu". The adapter runs that method on the CPU when it is given no
       device (the ALiBi matrix is a plain attribute, not a weight: nothing loads into it;
       the forward moves or rebuilds it on the input's device).
    2. When `triton` is importable the module binds `flash_attn_qkvpacked_func` to its
       bundled Triton kernel and uses it for every forward without dropout. That kernel
       asserts CUDA inputs and calls `tl.dot(..., trans_b=True)`, which current Triton
       removed, so it fails on CPU and GPU alike. The adapter sets the name to None, which
       selects the module's own PyTorch attention (the path it takes without triton).
    """

    upstream = "ALiBi tensor built on CPU under meta init; bundled Triton flash attention"

    def patch_modules(self, modules):
        for module in modules:
            if getattr(module, "flash_attn_qkvpacked_func", None) is not None:
                module.flash_attn_qkvpacked_func = None
        for cls in _classes(modules, "rebuild_alibi_tensor"):
            method = cls.rebuild_alibi_tensor
            if getattr(method, "_genobench_cpu", False):
                continue

            @functools.wraps(method)
            def on_cpu(self, *args, _method=method, **kwargs):
                if kwargs.get("device") is None and (len(args) < 2 or args[1] is None):
                    with torch.device("cpu"):
                        return _method(self, *args, **kwargs)
                return _method(self, *args, **kwargs)

            on_cpu._genobench_cpu = True
            cls.rebuild_alibi_tensor = on_cpu


def find_pruneable_heads_and_indices(heads, n_heads: int, head_size: int, already_pruned_heads):
    """transformers 4's helper (removed in 5): the heads still to prune and the flat indices
    of the kept rows of a (n_heads * head_size)-wide projection."""
    heads = set(heads) - set(already_pruned_heads)
    mask = torch.ones(n_heads, head_size)
    for head in heads:
        head -= sum(1 for h in already_pruned_heads if h < head)
        mask[head] = 0
    index = torch.arange(len(mask.view(-1)))[mask.view(-1).eq(1)].long()
    return heads, index


def _get_head_mask(self, head_mask, num_hidden_layers: int, is_attention_chunked=False):
    """transformers 4's `get_head_mask` for the only case genobench uses: no head mask."""
    if head_mask is not None:
        raise NotImplementedError("head masks are not supported by genobench's NT-v2 adapter")
    return [None] * num_hidden_layers


def _get_extended_attention_mask(self, attention_mask, input_shape, device=None, dtype=None):
    """transformers 4's `get_extended_attention_mask` for an encoder: (B, T) 1/0 mask ->
    additive (B, 1, 1, T) bias, 0 where attended and the dtype's minimum elsewhere."""
    dtype = dtype or next(self.parameters()).dtype
    if attention_mask.dim() == 3:
        extended = attention_mask[:, None, :, :]
    else:
        extended = attention_mask[:, None, None, :]
    extended = extended.to(dtype=dtype)
    return (1.0 - extended) * torch.finfo(dtype).min


class NucleotideTransformerV2(Adapter):
    """InstaDeepAI/nucleotide-transformer-v2-* (`modeling_esm.py`, written for transformers 4).

    It imports `find_pruneable_heads_and_indices` from `transformers.pytorch_utils` (gone
    in transformers 5), calls `PreTrainedModel.get_head_mask` and
    `get_extended_attention_mask` (gone), and reads `config.is_decoder` and
    `config.add_cross_attention` (no longer defaults of every config). The adapter puts
    back the helper under its old name, gives the remote model classes the two methods
    (encoder semantics, no head masks) and sets the two config flags to False (NT-v2 is
    an encoder). NT-2.5B uses transformers' own ESM classes and needs none of it.
    """

    upstream = "transformers-4 names: find_pruneable_heads_and_indices, get_head_mask, ..."

    def before_import(self):
        import transformers.pytorch_utils as pytorch_utils

        if not hasattr(pytorch_utils, "find_pruneable_heads_and_indices"):
            pytorch_utils.find_pruneable_heads_and_indices = find_pruneable_heads_and_indices

    def patch_config(self, config):
        for flag in ("is_decoder", "add_cross_attention"):
            if not hasattr(config, flag):
                setattr(config, flag, False)

    def patch_modules(self, modules):
        from transformers import PreTrainedModel

        for cls in _classes(modules, "forward"):
            if issubclass(cls, PreTrainedModel):
                if not hasattr(cls, "get_head_mask"):
                    cls.get_head_mask = _get_head_mask
                if not hasattr(cls, "get_extended_attention_mask"):
                    cls.get_extended_attention_mask = _get_extended_attention_mask


class HyenaDNA(Adapter):
    """LongSafari/hyenadna-*-hf (`tokenization_hyena.py`).

    Its `CharacterTokenizer` defines no `get_vocab`; transformers 5's
    `PreTrainedTokenizer.__init__` calls it, so the base class raises
    NotImplementedError. The tokenizer keeps its vocabulary in `_vocab_str_to_int`
    (set before `super().__init__`); the adapter adds `get_vocab` returning a copy of it.
    """

    upstream = "CharacterTokenizer without get_vocab"

    def patch_tokenizer_class(self, cls):
        from transformers import PreTrainedTokenizer

        base = getattr(PreTrainedTokenizer, "get_vocab", None)
        if getattr(cls, "get_vocab", None) is base:
            cls.get_vocab = lambda self: dict(getattr(self, "_vocab_str_to_int", {}))


class FastESM2(Adapter):
    """Synthyra/FastESM2_650 (`modeling_fastesm.py`).

    Its latest code imports `RotaryEmbedding` from `transformers.models.esm.modeling_esm`,
    renamed `EsmRotaryEmbedding` in transformers 5 (same class). The adapter binds the old
    name to it. Its class body also loads `facebook/esm2_t6_8M_UR50D`'s tokenizer, so an
    offline cache must hold that checkpoint's tokenizer files too (see the README). The
    attention it really runs is read by `loading.attention_used`, not from its config.
    """

    upstream = "imports RotaryEmbedding (now EsmRotaryEmbedding)"

    def before_import(self):
        import transformers.models.esm.modeling_esm as esm

        if not hasattr(esm, "RotaryEmbedding") and hasattr(esm, "EsmRotaryEmbedding"):
            esm.RotaryEmbedding = esm.EsmRotaryEmbedding


ADAPTERS: dict[str, Adapter] = {
    "dnabert2": DNABERT2(),
    "nt": NucleotideTransformerV2(),
    "hyena": HyenaDNA(),
    "fastesm": FastESM2(),
}
# config.model_type -> family, for checkpoints not in the registry
MODEL_TYPE_FAMILIES = {
    "bert": "bert",
    "esm": "esm",
    "mistral": "mistral",
    "mamba": "mamba",
    "hyenadna": "hyena",
    "caduceus": "caduceus",
    "stripedhyena": "evo",
    "fast_esm": "fastesm",
    "fastesm": "fastesm",
}


def adapter_for(family: str) -> Adapter:
    """The adapter of `family` (the no-op `Adapter` for families that need none)."""
    return ADAPTERS.get(family, Adapter())
