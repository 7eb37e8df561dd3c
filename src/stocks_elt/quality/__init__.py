"""The data-quality gate: SQL checks on the raw tables, results in audit.dq_results."""
