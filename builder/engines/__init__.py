"""Running the pipeline's work units past one process (Ray), resumably, into the Hub's Parquet layout."""
