#!/usr/bin/env python3
"""The MLP training step of 'fedtrain bench train --device cuda', in PyTorch, for comparison on the same GPU.

Same model (Linear -> ReLU ... -> Linear, PyTorch's default initialisation), the same
step (cross-entropy with mean reduction, backward, SGD lr 0.05 momentum 0.9), one
fixed batch already on the device, FP32 without TF32 (PyTorch's default for matmul,
set explicitly here). Timed like fedtrain's: blocks of --steps steps between CUDA
events, median of --repeats blocks after one warm-up block. Prints one table row
in fedtrain's format:

    training step (PyTorch 2.x)    samples/s    ms/step    GFLOP/s

where GFLOP/s counts the step's GEMM flops only, as fedtrain's row does.
Exit codes: 0 measured, 3 PyTorch or a CUDA device is missing (nothing measured).
"""
import argparse
import statistics
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", default="1024,1024")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--input", type=int, default=784)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--device", default="cuda", help="cuda (the comparison), or cpu (to check this script)")
    a = p.parse_args()

    try:
        import torch
    except ImportError as e:
        print(f"torch_mlp_bench: PyTorch is not importable ({e}); nothing measured", file=sys.stderr)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_mlp_bench: PyTorch sees no CUDA device; nothing measured", file=sys.stderr)
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(1)
    dev = torch.device(a.device)

    dims = [a.input] + [int(h) for h in a.hidden.split(",")] + [a.classes]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(a.batch, a.input, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    flops = sum(2.0 * a.batch * dims[i] * dims[i + 1] * (2 if i == 0 else 3) for i in range(len(dims) - 1))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    if a.device == "cuda":
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def block():
            start.record()
            for _ in range(a.steps):
                step()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop) * 1e-3 / a.steps
    else:
        import time

        def block():
            t0 = time.perf_counter()
            for _ in range(a.steps):
                step()
            return (time.perf_counter() - t0) / a.steps

    block()  # warm-up: kernel selection, allocator, clocks
    t = statistics.median(block() for _ in range(a.repeats))
    name = "training step (PyTorch %s)" % torch.__version__.split("+")[0]
    print(f"{name:<34} {a.batch / t:14.0f} {t * 1e3:12.4f} {flops / t / 1e9:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
