"""agents/planners/tiles: NPTP tile plans."""
