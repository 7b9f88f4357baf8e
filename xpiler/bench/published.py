"""The published figures of QiMeng-Xpiler (OSDI 2025, arXiv 2505.02146) that xpiler is compared with.

Transcribed from shared/reference/system.md ("Its figures"); every number is the paper's own. The
benchmark reports print ours next to these, in the same layout.
"""

from __future__ import annotations

PAPER = "QiMeng-Xpiler (OSDI 2025, arXiv 2505.02146)"

#: Row / column order of the paper's accuracy table (source \ target).
ORDER = ("cuda", "bang", "hip", "vnni")
LABELS = {"cuda": "CUDA", "bang": "BANG", "hip": "HIP", "vnni": "VNNI"}

#: Programs per platform in the paper's benchmark: 21 operators x 8 shapes.
PROGRAMS_PER_PLATFORM = 168
OPERATORS = ("gemm", "gemv", "bmm", "conv1d", "conv2d_nhwc", "conv2d_nchw", "depthwise_conv", "relu", "softmax",
             "gelu", "sigmoid", "add", "sign", "maxpool", "avgpool", "minpool", "sumpool", "layernorm", "rmsnorm",
             "mha", "deformable_attention")

#: Computation accuracy, % of the 168 programs whose translation passes its test, per (source, target).
COMPUTE_ACCURACY = {
    ("cuda", "bang"): 91.7, ("cuda", "hip"): 100.0, ("cuda", "vnni"): 95.2,
    ("bang", "cuda"): 95.8, ("bang", "hip"): 97.0, ("bang", "vnni"): 95.2,
    ("hip", "cuda"): 100.0, ("hip", "bang"): 86.9, ("hip", "vnni"): 96.4,
    ("vnni", "cuda"): 98.2, ("vnni", "bang"): 88.7, ("vnni", "hip"): 99.4,
}
#: The paper's mean over the 12 directions.
MEAN_COMPUTE_ACCURACY = 95.4
#: Compilation accuracy was 99.4-100% in every direction (the paper gives the range only).
COMPILE_ACCURACY_RANGE = (99.4, 100.0)

#: Other systems on CUDA -> BANG (computation accuracy, %), and the ablation without SMT repair.
CUDA_TO_BANG_BASELINES = {"GPT-4 zero-shot": 0.0, "GPT-4 few-shot": 7.7, "o1 few-shot": 48.2,
                          "QiMeng-Xpiler without SMT repair": 54.2}
#: Rule-based tools (computation accuracy, %).
RULE_BASED = {"HIPIFY (CUDA to HIP)": 85.7, "PPCG (C to CUDA)": 47.6}

#: Performance of translated programs relative to the vendor libraries (cuDNN/cuBLAS, rocBLAS, CNNL,
#: oneDNN through PyTorch): library time / program time, so 1.0 is parity and > 1 is faster.
PERF_MEAN_VS_LIBRARY = 0.78
PERF_BEST = (2.0, "MaxPool, C to CUDA")
PERF_GEMV_RANGE = (0.27, 0.34)
FLASH_ATTENTION_VS_NATIVE = (0.61, 0.81)

#: Time to translate one operator CUDA -> BANG, hours.
TRANSLATION_HOURS = {"min": 1.2, "max": 7.8, "mean": 3.7}


def accuracy(source: str, target: str) -> float | None:
    """The paper's computation accuracy (%) of ``source -> target``; None on the diagonal."""
    return COMPUTE_ACCURACY.get((source, target))


def summary_lines() -> list[str]:
    """The published figures other than the matrix, one line each, for the reports."""
    lo, hi = COMPILE_ACCURACY_RANGE
    return [
        f"published ({PAPER}): {PROGRAMS_PER_PLATFORM} programs per platform (21 operators x 8 shapes); "
        f"mean computation accuracy {MEAN_COMPUTE_ACCURACY:.1f}%; compilation accuracy {lo:g}-{hi:g}% everywhere",
        "published CUDA->BANG baselines: " + ", ".join(f"{k} {v:g}%" for k, v in CUDA_TO_BANG_BASELINES.items())
        + "; rule-based: " + ", ".join(f"{k} {v:g}%" for k, v in RULE_BASED.items()),
        f"published translation time, CUDA->BANG: {TRANSLATION_HOURS['min']:g}-{TRANSLATION_HOURS['max']:g} h per "
        f"operator (mean {TRANSLATION_HOURS['mean']:g} h)",
    ]
