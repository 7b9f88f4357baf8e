"""Z3-backed synthesis, repair and symbolic checks (imported as ``xpiler.synth``)."""
