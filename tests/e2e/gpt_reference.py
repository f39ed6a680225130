#!/usr/bin/env python3
"""A second implementation of docs/models.md: a site's validation bits per byte from a GPT checkpoint, in numpy.

    gpt_reference.py CHECKPOINT VAL_FILE      prints the bits per byte

It reads only what docs/models.md and docs/checkpoint-format.md describe: the
tensors /model/<name> by name, model.heads from the checkpoint's config
attribute, /tokens of the validation file; and it evaluates by the protocol of
docs/models.md (windows of T+1 bytes from byte 0, stepping by T, the last
partial window dropped). Float64 throughout. Needs Debian's python3-h5py and
python3-numpy (run with /usr/bin/python3).
"""
import math
import sys

import h5py
import numpy as np


def layernorm(x, w, b):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def main(ckpt_path, val_path):
    with h5py.File(ckpt_path, "r") as f:
        p = {name: np.asarray(f["model"][name], dtype=np.float64) for name in f["model"]}
        config = f.attrs["config"]
        config = config.decode() if isinstance(config, bytes) else str(config)
    section, heads = "", None
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[model]" and line.startswith("heads"):
            heads = int(line.split("=")[1])
    T, D = p["wpe"].shape
    H, L = heads, sum(1 for n in p if n.endswith(".ln1.weight"))
    with h5py.File(val_path, "r") as f:
        val = np.asarray(f["tokens"], dtype=np.int64)
    windows = (len(val) - 1) // T
    loss = 0.0
    for w in range(windows):
        seq = val[w * T: w * T + T + 1]
        x = p["wte"][seq[:T]] + p["wpe"]
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for i in range(L):
            b = f"blocks.{i}."
            h = layernorm(x, p[b + "ln1.weight"], p[b + "ln1.bias"])
            qkv = h @ p[b + "attn.qkv.weight"].T + p[b + "attn.qkv.bias"]
            q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
            hs = D // H
            out = np.empty((T, D))
            for hd in range(H):
                c = slice(hd * hs, (hd + 1) * hs)
                s = q[:, c] @ k[:, c].T / math.sqrt(hs) + mask
                s = np.exp(s - s.max(-1, keepdims=True))
                out[:, c] = (s / s.sum(-1, keepdims=True)) @ v[:, c]
            x = x + out @ p[b + "attn.proj.weight"].T + p[b + "attn.proj.bias"]
            h = layernorm(x, p[b + "ln2.weight"], p[b + "ln2.bias"])
            x = x + gelu(h @ p[b + "mlp.fc.weight"].T + p[b + "mlp.fc.bias"]) @ p[b + "mlp.proj.weight"].T \
                + p[b + "mlp.proj.bias"]
        logits = layernorm(x, p["lnf.weight"], p["lnf.bias"]) @ p["wte"].T
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        loss -= logp[np.arange(T), seq[1:]].sum()
    print(f"{loss / (windows * T) / math.log(2):.6f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
