"""faalgrad."""
