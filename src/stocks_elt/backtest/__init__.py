"""Getting the marts into backtesters and notebooks: the Parquet export."""
