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
loaded as it comes (`attn_implementation=None`; its registry entry trusts its code and
its adapter fixes a renamed import). Every model loads through `genobench.models.loading`;
the attention label is what a forward really runs (`loading.attention_used`), not what
the config claims.

Local stand-ins have the real ESM2 configuration (rotary positions, token dropout
scaling, 33-token vocabulary saved with the model as an `EsmTokenizer` vocab.txt) at
the shapes of `facebook/esm2_t6_8M_UR50D` and `esm2_t12_35M_UR50D`, with random weights
from a fixed seed: the same name always gives the same weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

from genobench.models.embed import embed_in_batches, mean_pool
from genobench.models.loading import attention_used, forward, load, pad_batch

# The ESM-2 vocabulary, in facebook/esm2_*'s vocab.txt order (33 tokens).
ESM_VOCAB = [
    "<cls>",
    "<pad>",
    "<eos>",
    "<unk>",
    *"LAGVSERTIDPKQNFYMHWCXBUZO",
    ".",
    "-",
    "<null_1>",
    "<mask>",
]

# name -> shape; the last two are the shapes of facebook/esm2_t6_8M_UR50D and
# facebook/esm2_t12_35M_UR50D (hidden, layers, heads; intermediate = 4 x hidden).
LOCAL_ESM_MODELS = {
    "esm2-tiny": dict(hidden_size=64, num_layers=2, num_heads=4),
    "esm2-t6-8m": dict(hidden_size=320, num_layers=6, num_heads=20),
    "esm2-t12-35m": dict(hidden_size=480, num_layers=12, num_heads=20),
}
ATTENTION_CHOICES = ("eager", "sdpa", None)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def esm_tokenizer(folder: str | Path) -> EsmTokenizer:
    """The ESM-2 tokenizer, its vocab.txt written into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    return EsmTokenizer(str(vocab))


def esm_config(
    hidden_size: int, num_layers: int, num_heads: int, max_positions: int = 1026
) -> EsmConfig:
    """An ESM-2 configuration (as in facebook/esm2_*) of the given shape."""
    return EsmConfig(
        vocab_size=len(ESM_VOCAB),
        mask_token_id=ESM_VOCAB.index("<mask>"),
        pad_token_id=ESM_VOCAB.index("<pad>"),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=max_positions,
        layer_norm_eps=1e-5,
        position_embedding_type="rotary",
        emb_layer_norm_before=False,
        token_dropout=True,
        architectures=["EsmForMaskedLM"],
    )


def build_local_esm(
    path: str | Path, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4, seed: int = 0
) -> Path:
    """Save a random-initialised EsmForMaskedLM and its tokenizer into `path`."""
    path = Path(path)
    tokenizer = esm_tokenizer(path)
    torch.manual_seed(seed)
    model = EsmForMaskedLM(esm_config(hidden_size, num_layers, num_heads))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def residue_mask(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids
) -> torch.Tensor:
    """1 where a token is a residue: attended to and not one of `special_ids` (BOS/CLS,
    EOS, padding)."""
    keep = attention_mask.bool()
    for tid in special_ids:
        keep &= input_ids != tid
    return keep.to(attention_mask.dtype)


class EsmEncoder:
    """An ESM-family model (hub id, local path or `local:<name>`) that embeds proteins.

    `attention` is the `attn_implementation` asked of `from_pretrained` ("eager",
    "sdpa"), or None to load the model as it comes (remote-code models).
    """

    def __init__(
        self,
        name_or_path,
        attention: str | None = "sdpa",
        device: str = "cpu",
        dtype: str | torch.dtype | None = None,
        trust_remote_code: bool | None = None,
    ):
        if attention not in ATTENTION_CHOICES:
            raise ValueError(f"attention must be one of {ATTENTION_CHOICES}, got {attention!r}")
        if isinstance(dtype, str) and dtype != "auto":
            if dtype not in DTYPES:
                raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
            dtype = DTYPES[dtype]
        self.name = getattr(name_or_path, "name", name_or_path)  # a name or a ModelSpec
        self.attention = attention
        self.device = device
        loaded = load(
            name_or_path,
            device=device,
            dtype=dtype,
            head="none",
            trust_remote_code=trust_remote_code,
            attention=attention,
        )
        self.model, self.tokenizer, self.path = loaded.model, loaded.tokenizer, loaded.source
        self.hidden_size = loaded.embedding_dim
        self.missing_keys = loaded.missing_keys
        configured = getattr(self.model.config, "_attn_implementation", None)
        if attention is not None and configured != attention:
            raise ValueError(
                f"{name_or_path}: asked for {attention} attention, "
                f"transformers selected {configured}"
            )
        tok = self.tokenizer
        self.special_ids = sorted(
            {
                t
                for t in (
                    tok.cls_token_id,
                    tok.bos_token_id,
                    tok.eos_token_id,
                    tok.sep_token_id,
                    tok.pad_token_id,
                )
                if t is not None
            }
        )
        self.attn_implementation = attention_used(self.model, self.tokenize(["MKV"]))

    @property
    def label(self) -> str:
        return f"{self.name} [{self.attn_implementation or 'as shipped'}]"

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def tokenize(self, seqs: list[str], max_length: int = 1024) -> dict[str, torch.Tensor]:
        """Padded tokens of `seqs` on the device, with `residue_mask` added."""
        enc = {
            k: v.to(self.device)
            for k, v in pad_batch(self.tokenizer, seqs, max_length=max_length).items()
        }
        enc["residue_mask"] = residue_mask(
            enc["input_ids"], enc["attention_mask"], self.special_ids
        )
        return enc

    @torch.inference_mode()
    def pool(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """Forward pass and residue-only mean pooling: (batch, hidden) float32 on the CPU."""
        hidden, _ = forward(self.model, enc)
        return mean_pool(hidden, enc["residue_mask"].to(hidden.device)).cpu()

    def embed(
        self, seqs: list[str], batch_size: int = 8, max_length: int = 1024, progress: bool = True
    ) -> np.ndarray:
        """Residue-mean-pooled last hidden state (n, hidden) per sequence, in input order."""
        return embed_in_batches(
            seqs,
            batch_size,
            self.hidden_size,
            lambda batch: self.pool(self.tokenize(batch, max_length)),
            f"embed {self.label}",
            progress,
        )

    def release(self) -> None:
        """Drop the weights (and empty the CUDA cache) before the next model is loaded."""
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
