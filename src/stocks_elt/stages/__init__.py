"""Stage implementations; reach them through stocks_elt.pipeline."""
