"""
The Airflow glue, inside the package: what the three DAG files in ``dags/`` import.

The DAG files declare schedules, params, mapping and Assets, then call into here;
they import nothing else of the package. Importing this package (and ``assets``,
``defaults``) is cheap and does no I/O: Airflow parses DAG files often.

    assets       the Assets that chain the DAGs, connection ids, the pool
    defaults     default_args and the retry policy
    connections  Airflow connections <-> settings, in both directions
    tasks        the bodies of the ingest and load tasks
    dbt_dag      dbt_run_models: the Cosmos DbtDag over the packaged dbt project
    local        ``stocks-elt airflow``: a local Airflow without Docker

    ingest_stocks ──LAKE_RAW──▶ load_stocks_from_minio ──WAREHOUSE_RAW──▶ dbt_run_models
"""
