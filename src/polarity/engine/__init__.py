"""What training and inference share: device and precision, batches of ids, the CPU-thread policy
and worker threads, and batched prediction. It sits below both (``inference`` never imports
``training``). Names load lazily, so that :mod:`polarity.engine.threads` can set the thread policy
before anything imports PyTorch."""

from importlib import import_module

_WHERE = {
    "EncodedSet": "batches", "deal_by_length": "batches", "make_batch": "batches", "plan_batches": "batches",
    "autocast": "device", "bfloat16_supported": "device", "flush_denormals": "device", "resolve_device": "device",
    "resolve_precision": "device",
    "evaluate_logits": "predict", "predict_logits": "predict", "probabilities": "predict",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"polarity.engine.{_WHERE[name]}"), name)
    if name in ("distributed", "threads"):
        return import_module(f"polarity.engine.{name}")
    raise AttributeError(f"module 'polarity.engine' has no attribute {name!r}")
