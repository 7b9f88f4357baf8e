"""Loop reorder (loop-reorder): being written (registered ahead so the registry changes once)."""
