"""jobspec package."""
