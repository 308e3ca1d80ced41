"""Plans, apply results and drift as text, Markdown and JSON."""
