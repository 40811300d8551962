"""The use cases of emgmm, click-free: what every command does between parsing and printing.

Each module is one use case (fitting, selecting, batching, models: predict, score, sample
and info; blobs), typed with the engine's Dataset, raising the project's own errors
(DataError, EngineError with its source set, UsageProblem); the command line maps them
to exit codes, and the same functions are the Python API (emgmm_cli/__init__.py).
"""
