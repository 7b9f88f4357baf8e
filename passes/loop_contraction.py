"""Loop contraction (loop-contraction): being written (registered ahead so the registry changes once)."""
