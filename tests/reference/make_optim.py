#!/usr/bin/env python3
"""PyTorch reference values for the optimizer pieces, read by tests/Training/OptimFixtureTests.cs.

Regenerate from the repository root with Debian's python3-torch (no other package needed):

    /usr/bin/python3 tests/reference/make_optim.py

It rewrites tests/reference/optim.safetensors (fixed seeds, sorted keys), with
../shared/peers/torch_llama.py's save_safetensors. Commit the file: the tests read it and need no Python.

- `adamw.*`: torch.optim.AdamW (float32, betas 0.9/0.999, eps 1e-8, weight decay 0.1) over three
  parameters of odd sizes; "b" (1-D) sits in a group without weight decay, as Hugging Face's Trainer
  puts biases and norm weights. `adamw.lr` [steps] is the lr of each step; `adamw.init.<p>` the start;
  `adamw.grad.<s>.<p>` the gradient of step s (absent where the parameter has no gradient that step,
  so torch skips it and its step count stays); `adamw.after.<s>.<p>` the parameter after step s;
  `adamw.exp_avg.<p>`, `adamw.exp_avg_sq.<p>`, `adamw.step.<p>` (int64) the final state.
- `clip.<case>.*`: torch.nn.utils.clip_grad_norm_ on float32 gradients `in.<i>` with `max_norm`
  [1]: the returned total norm `norm` [1] and the gradients after it, `out.<i>`.
- `schedule.<kind>.lr` [35]: the lr at steps 0..34 of transformers' schedules (formulas copied below;
  transformers is not installed) for `schedule.config` = [peak lr, warmup, total steps, min lr ratio].
  Kinds: constant (get_constant_schedule_with_warmup), linear (get_linear_schedule_with_warmup),
  cosine (get_cosine_schedule_with_warmup, num_cycles 0.5) and cosine_min
  (get_cosine_with_min_lr_schedule_with_warmup with min_lr_rate). Past the total, the formulas run on
  unchanged, as transformers' do.
"""

import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "peers"))
from torch_llama import save_safetensors  # noqa: E402

OUT = os.path.join(HERE, "optim.safetensors")
tensors = {}


def put(key, t):
    assert key not in tensors, key
    tensors[key] = t.detach().clone().contiguous()


def adamw():
    g = torch.Generator().manual_seed(5)
    shapes = {"w": (5, 7), "b": (7,), "e": (37, 3)}
    params = {k: torch.randn(s, generator=g).requires_grad_() for k, s in shapes.items()}
    for k, p in params.items():
        put(f"adamw.init.{k}", p)
    opt = torch.optim.AdamW(
        [{"params": [params["w"], params["e"]]}, {"params": [params["b"]], "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    lrs = [1e-3, 2e-3, 5e-4, 1e-3, 3e-3]
    for s, lr in enumerate(lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        for k, p in params.items():
            if s == 2 and k == "b":
                p.grad = None
                continue
            p.grad = torch.randn(shapes[k], generator=g)
            put(f"adamw.grad.{s}.{k}", p.grad)
        opt.step()
        for k, p in params.items():
            put(f"adamw.after.{s}.{k}", p)
    put("adamw.lr", torch.tensor(lrs, dtype=torch.float32))
    for k, p in params.items():
        state = opt.state[p]
        put(f"adamw.exp_avg.{k}", state["exp_avg"])
        put(f"adamw.exp_avg_sq.{k}", state["exp_avg_sq"])
        put(f"adamw.step.{k}", torch.tensor(int(state["step"].item()), dtype=torch.int64))


def clip():
    g = torch.Generator().manual_seed(7)
    cases = {
        "scaled": ([(4, 5), (9,), (3, 3, 3)], 3.0, 1.0),
        "unscaled": ([(4, 5), (9,), (3, 3, 3)], 0.01, 1.0),
        "large": ([(257,), (1, 1)], 100.0, 0.5),
    }
    for name, (shapes, scale, max_norm) in cases.items():
        params = [torch.zeros(s, requires_grad=True) for s in shapes]
        for i, p in enumerate(params):
            p.grad = torch.randn(shapes[i], generator=g) * scale
            put(f"clip.{name}.in.{i}", p.grad)
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        put(f"clip.{name}.max_norm", torch.tensor([max_norm]))
        put(f"clip.{name}.norm", norm.reshape(1))
        for i, p in enumerate(params):
            put(f"clip.{name}.out.{i}", p.grad)


# transformers/optimization.py, the lr_lambda of each schedule (LambdaLR multiplies the base lr by it).
def constant_with_warmup(step, warmup):
    if step < warmup:
        return float(step) / float(max(1.0, warmup))
    return 1.0


def linear_with_warmup(step, warmup, total):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    return max(0.0, float(total - step) / float(max(1, total - warmup)))


def cosine_with_warmup(step, warmup, total, num_cycles=0.5):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def cosine_with_min_lr(step, warmup, total, min_lr_rate, num_cycles=0.5):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total - warmup))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    factor = factor * (1 - min_lr_rate) + min_lr_rate
    return max(0, factor)


def schedules():
    peak, warmup, total, min_ratio = 3e-4, 5, 30, 0.1
    put("schedule.config", torch.tensor([peak, warmup, total, min_ratio], dtype=torch.float32))
    peak = float(torch.tensor(peak, dtype=torch.float32))  # the engine holds the peak as float32
    kinds = {
        "constant": lambda s: constant_with_warmup(s, warmup),
        "linear": lambda s: linear_with_warmup(s, warmup, total),
        "cosine": lambda s: cosine_with_warmup(s, warmup, total),
        "cosine_min": lambda s: cosine_with_min_lr(s, warmup, total, min_ratio),
    }
    for kind, fn in kinds.items():
        put(f"schedule.{kind}.lr", torch.tensor([peak * fn(s) for s in range(35)], dtype=torch.float64).float())


def main():
    torch.set_num_threads(1)
    adamw()
    clip()
    schedules()
    save_safetensors(OUT, tensors, {"generator": "tests/reference/make_optim.py", "torch": torch.__version__})
    print(f"wrote {len(tensors)} tensors, {os.path.getsize(OUT)} bytes to {OUT}")


if __name__ == "__main__":
    main()
