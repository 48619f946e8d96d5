"""executors/tiles: NPTP tile plans."""
