#!/usr/bin/env python3
"""The GPT training step of 'fedtrain bench train --model gpt', in PyTorch, for comparison on the same CPU.

The same model as docs/models.md (byte vocabulary, learned positions, pre-LayerNorm
blocks with a fused qkv projection, causal attention scaled by 1/sqrt(D/H), GELU
(tanh) MLP of width 4D, final LayerNorm, output tied to the token embedding, GPT-2
initialisation), the same step (mean cross-entropy over B*T positions, backward,
AdamW with weight decay on 2-D tensors only), random printable bytes, FP32 on the CPU
with --threads threads (intra-op and OpenBLAS's own). Timed like fedtrain's: median of --repeats blocks of --steps
steps after one warm-up block. Prints one row in fedtrain's format:

    training step (PyTorch 1.13)    tokens/s    ms/step

Run it with Debian's Python (/usr/bin/python3 with python3-torch).
Exit codes: 0 measured, 3 PyTorch is missing (nothing measured).
"""
import argparse
import math
import os
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [("layers", 4), ("heads", 4), ("dim", 256), ("context", 128), ("batch", 16),
                          ("steps", 3), ("repeats", 5), ("threads", 1)]:
        p.add_argument("--" + name, type=int, default=default)
    a = p.parse_args()
    # torch.set_num_threads does not reach OpenBLAS's own thread pool, which otherwise starts one thread per
    # core inside every matrix product: pin it before torch loads OpenBLAS, as fedtrain's bench does.
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError:
        print("torch_gpt_bench: PyTorch is not installed (apt-get install python3-torch; run /usr/bin/python3)",
              file=sys.stderr)
        return 3
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    D, H, T, L, V = a.dim, a.heads, a.context, a.layers, 256

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D, eps=1e-5), nn.LayerNorm(D, eps=1e-5)
            self.attn = nn.Module()
            self.attn.qkv, self.attn.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.mlp = nn.Module()
            self.mlp.fc, self.mlp.proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

        def forward(self, x):
            B = x.shape[0]
            q, k, v = self.attn.qkv(self.ln1(x)).split(D, dim=2)
            q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
            x = x + self.attn.proj((att @ v).transpose(1, 2).reshape(B, T, D))
            return x + self.mlp.proj(F.gelu(self.mlp.fc(self.ln2(x)), approximate="tanh"))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Parameter(torch.randn(V, D) * 0.02), nn.Parameter(torch.randn(T, D) * 0.02)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.lnf = nn.LayerNorm(D, eps=1e-5)
            for n, prm in self.named_parameters():
                if n.endswith(".bias"):
                    nn.init.zeros_(prm)
                elif n.endswith("proj.weight"):
                    nn.init.normal_(prm, 0, 0.02 / math.sqrt(2 * L))
                elif prm.dim() == 2 and n not in ("wte", "wpe"):
                    nn.init.normal_(prm, 0, 0.02)

        def forward(self, idx):
            x = self.wte[idx] + self.wpe
            for b in self.blocks:
                x = b(x)
            return self.lnf(x) @ self.wte.t()

    model = Gpt()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-4)
    data = torch.randint(32, 127, (a.batch, T + 1))
    x, y = data[:, :T], data[:, 1:]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()

    def block():
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        return (time.perf_counter() - t0) / a.steps

    block()
    s = statistics.median(block() for _ in range(a.repeats))
    print(f"{'training step (PyTorch ' + torch.__version__.split('+')[0] + ')':34s} {a.batch * T / s:12.0f} {s * 1e3:12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
