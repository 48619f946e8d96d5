"""executors/volumes: DistrEdge-style volume plans."""
