"""Training: FIM transform, packing, the loop, checkpoints and resume, distributed launch."""
