"""Loop fusion (loop-fuse): being written (registered ahead so the registry changes once)."""
