"""The transform stage: the dbt project in ``dbt/``, run in-process."""
