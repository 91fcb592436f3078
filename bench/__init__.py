"""Benchmarks: polarity against the Keras original, same data, same machine, same run."""
