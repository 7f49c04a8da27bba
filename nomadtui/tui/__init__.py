"""The Textual console (placeholder until the console lands)."""
