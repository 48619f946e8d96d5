"""agents/planners/volumes: DistrEdge-style volume plans."""
