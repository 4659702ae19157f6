"""The Spark engine's session: one per job, its Python workers on this venv.

Apart from reading, checking and writing (`jobs.spark_read`, `spark_validate`, `spark_write`)
and scoring (`jobs.spark`), because every Spark job, scoring and training (`jobs.spark_train`)
alike, starts here: the same workers' interpreter, time zone, quiet logs and Arrow transfer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

# PySpark 4.x warns on import that pandas >= 3 is "not fully supported". This
# engine uses only mapInPandas and MLflow's pandas UDF on plain string / float /
# int64 columns; tests/model/test_spark_engine.py checks those against the local
# engine on pandas 3, so the warning is silenced, for that message only.
PANDAS3_WARNING = "PySpark does not yet fully support pandas >= 3.0.0"


def _silence_pandas3_warning() -> None:
    warnings.filterwarnings("ignore", message=PANDAS3_WARNING, category=FutureWarning)
    # Python workers (local mode inherits the driver's environment)
    flt = f"ignore:{PANDAS3_WARNING}:FutureWarning"
    current = os.environ.get("PYTHONWARNINGS", "")
    if flt not in current:
        os.environ["PYTHONWARNINGS"] = f"{current},{flt}" if current else flt


def spark_session(master: str = "local[*]", app_name: str = "denial-risk"):
    """A SparkSession whose Python workers run this venv's interpreter.

    PYSPARK_PYTHON (and `spark.pyspark.python`) default to `sys.executable`; on a
    cluster set PYSPARK_PYTHON to the venv's python as the workers see it.
    """
    _silence_pandas3_warning()
    python = os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.pyspark.python", python)
        .config("spark.executorEnv.PYTHONWARNINGS", os.environ["PYTHONWARNINGS"])
        .config("spark.executorEnv.MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if master.startswith("local"):
        # 200 shuffle partitions (the default) means 200 tiny model calls on one machine
        spark = spark.config("spark.sql.shuffle.partitions", str(_local_cores(master) * 2))
    spark = spark.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def job_session(master: str):
    """The job's SparkSession: one already running is used and left running; one started here is stopped."""
    from pyspark.sql import SparkSession

    owned = SparkSession.getActiveSession() is None
    spark = spark_session(master)
    try:
        yield spark
    finally:
        if owned:
            with contextlib.suppress(Exception):
                spark.stop()


def _local_cores(master: str) -> int:
    inside = master[len("local") :].strip("[]").split(",")[0]
    if inside in ("", "*"):
        return os.cpu_count() or 2
    return max(int(inside), 1) if inside.isdigit() else 2
