"""Scoring other people's predictions against reference rows (`jax-stablehlo-pairs evaluate`)."""
