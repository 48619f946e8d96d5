"""costmodels/tiles: NPTP tile plans."""
