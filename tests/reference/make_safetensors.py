#!/usr/bin/env python3
"""A safetensors file written by the PyTorch peer, read by tests/Model/SafeTensorsTorchTests.cs.

Regenerate from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/reference/make_safetensors.py

It writes tests/reference/torch_format.safetensors with ../shared/peers/torch_llama.py's
save_safetensors (names sorted, header padded with spaces). Every value is a simple formula of its
index, which the test recomputes. "a.u8" holds 3 bytes and comes first, so every tensor after it sits
at an odd address: the zero-copy reader must cope with misaligned data.
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "peers"))
from torch_llama import save_safetensors  # noqa: E402


def main():
    i = torch.arange(12, dtype=torch.float64)
    tensors = {
        "a.u8": torch.tensor([1, 128, 255], dtype=torch.uint8),
        "b.f32": (i / 4 - 1).to(torch.float32).reshape(3, 4),
        "c.bf16": (i / 8 - 0.5).to(torch.bfloat16).reshape(2, 6),
        "d.f16": (i / 16 + 0.25).to(torch.float16),
        "e.i64": (i.to(torch.int64) - 6) * 1_000_000_007,
        "f.i32": (i.to(torch.int32) - 6) * 1_000_003,
        "g.scalar": torch.tensor(3.5, dtype=torch.float32),
        "h.empty": torch.zeros(0, 4, dtype=torch.float32),
    }
    out = os.path.join(HERE, "torch_format.safetensors")
    save_safetensors(out, tensors, {"format": "pt", "source": "make_safetensors.py"})
    print(f"wrote {len(tensors)} tensors, {os.path.getsize(out)} bytes to {out}")


if __name__ == "__main__":
    main()
