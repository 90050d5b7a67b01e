"""config -> rows: seeds and work units, the global plan, the row function, dedup after the map,
failure reports, build directories, statistics and the code fingerprint of the cache key."""
