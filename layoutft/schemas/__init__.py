"""Package data: JSON Schemas of the formats layoutft writes (read with importlib.resources)."""
