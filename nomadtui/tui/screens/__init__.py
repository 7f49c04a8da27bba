"""Console screens: one module per view; list views share ResourceScreen."""
