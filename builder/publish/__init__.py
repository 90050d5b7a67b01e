"""Builds -> the Hub: Parquet per config through `push_to_hub`, the dataset card and its figures."""
