"""Meta-prompts for the LLM implementations of passes, shipped as package data."""
