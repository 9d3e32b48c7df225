"""Peak dense half-precision (fp16/bf16 tensor core, no sparsity) TFLOP/s of common GPUs, from NVIDIA's
datasheets: what "share of peak" divides by. Matched against ``torch.cuda.get_device_name()``, most
specific first; ``--peak-tflops`` overrides it for any other device."""

from __future__ import annotations

PEAK_TFLOPS = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
    ("V100", 125.0),
    ("T4", 65.0),
)


def peak_tflops(device_name: str) -> float | None:
    for key, tflops in PEAK_TFLOPS:
        if key in device_name:
            return tflops
    return None
