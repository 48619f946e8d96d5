"""costmodels/volumes: DistrEdge-style volume plans."""
