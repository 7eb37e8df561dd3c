# The Astro project image: Astro Runtime (Apache Airflow 3) plus this project.
#
# Astro Runtime 3.3-x ships Apache Airflow 3.3.x; keep the tag in step with the
# apache-airflow version in uv.lock. The runtime's ONBUILD steps install
# packages.txt (apt) and requirements.txt (pip; generated from uv.lock by
# scripts/export-requirements), then copy the project into /usr/local/airflow:
# dags/ is the DAG folder, src/ the stocks_elt package (with its dbt project).
FROM astrocrpublic.azurecr.io/runtime:3.3-8

# The package is imported from the source tree, so no build step is needed.
# Cosmos lists the dbt project with dbt ls when its cache is cold: give parsing
# time. Cosmos and dbt must not phone home from the workers.
ENV PYTHONPATH="/usr/local/airflow/src${PYTHONPATH:+:$PYTHONPATH}" \
    AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=120 \
    AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT=180 \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__COSMOS__CACHE_DIR=/tmp/cosmos \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DO_NOT_TRACK=1 \
    STOCKS_ELT_DATA_DIR=/tmp/stocks_elt
