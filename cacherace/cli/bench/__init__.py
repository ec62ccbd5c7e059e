"""``cacherace bench``: harness cost, race finding, the free-threads baseline."""
