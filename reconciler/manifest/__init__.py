"""The manifest: YAML source, schema and rules, environment variables, diagnostics."""
