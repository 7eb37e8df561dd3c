"""SQL of the data-quality checks, one file per check (read by checks.py)."""
