"""Loop expansion (loop-expansion): being written (registered ahead so the registry changes once)."""
