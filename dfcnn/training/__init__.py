"""Training a DFCNN: the trainer, its configs and the plumbing only training needs.

``train`` (the Trainer), ``experiment`` (ExperimentConfig and its sections), ``generators`` (the run's
own random generators), ``exp_dir`` (one run a folder: its lock), ``distributed`` (torchrun ranks),
``workers`` and ``_forkserver_guard`` (audio-decoding processes), ``tracking`` (metrics.jsonl,
TensorBoard), ``allocator`` (jemalloc). Nothing here is imported by ``import dfcnn`` or by inference.
"""
