"""Built-in TOML presets, one per problem, each with a ``quick`` and a ``paper`` size."""
