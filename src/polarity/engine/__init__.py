"""What training and inference share: device and precision, batches of ids, worker threads and
batched prediction. It sits below both (``inference`` never imports ``training``)."""

from polarity.engine.batches import EncodedSet, make_batch, plan_batches
from polarity.engine.device import autocast, bfloat16_supported, flush_denormals, resolve_device, resolve_precision
from polarity.engine.predict import evaluate_logits, predict_logits, probabilities

__all__ = [
    "EncodedSet",
    "autocast",
    "bfloat16_supported",
    "evaluate_logits",
    "flush_denormals",
    "make_batch",
    "plan_batches",
    "predict_logits",
    "probabilities",
    "resolve_device",
    "resolve_precision",
]
