"""tickflow: PyFlink stream processing for market data."""
from setuptools import find_packages, setup

setup(
    name="tickflow",
    version="0.1.0",
    description="PyFlink jobs that turn raw market data into bars, indicators and quality scores",
    python_requires=">=3.11,<3.12",
    # tickflow (operations on top, tickflow.runtime at the bottom), the jobs and the connectors; the provider
    # simulators are the separate test kit in tests/support (docs/architecture.md)
    packages=find_packages(include=["tickflow", "tickflow.*", "jobs", "jobs.*", "connectors", "connectors.*"]),
    package_data={"jobs": ["*.yaml"], "connectors": ["*.yaml"]},
    install_requires=[
        # Flink 2.2.1's Python API; it pins its own pandas, pyarrow, numpy and apache-beam ranges,
        # which the pins below sit inside. Exact versions of everything: constraints.txt
        "apache-flink==2.2.1",
        "pandas==2.2.3",
        "pyarrow==16.1.0",
        "numpy==2.1.3",
        "kafka-python==3.0.12",
        "confluent-kafka==2.16.1",
        "lz4==4.4.5",  # kafka-python needs it to read the lz4 batches the connectors publish
        "psycopg2-binary==2.9.13",
        "boto3==1.44.5",
        "great-expectations==1.24.1",  # the audits
        "exchange-calendars==4.13.2",
        "jsonschema==4.26.0",
        "PyYAML==6.0.3",
        "matplotlib==3.11.2",  # `tickflow plot` and the demo's chart (tickflow/charts.py); bench plots
        # connectors: WebSocket and HTTP clients; metrics; DBN codec
        "aiohttp==3.14.5",
        "prometheus-client==0.26.0",
        "databento-dbn==0.72.0",
        "zstandard==0.25.0",  # .dbn.zst files (databento-dbn cannot hand back raw decompressed bytes)
    ],
    extras_require={
        "test": [
            "pytest==9.2.0",
            "hypothesis==6.170.27",  # property-based fuzzing of the parsers of external bytes (tests/unit/fuzz)
            # indicator references: TA-Lib (binary wheel, C library bundled) and real daily bars
            "TA-Lib==0.8.2",
            "bokeh_sampledata==2026.1",
            "ruff==0.17.6",
            "mypy==2.4.1",
            "types-PyYAML==6.0.12.20261122",
        ],
    },
    entry_points={"console_scripts": ["tickflow=tickflow.cli:main"]},
)
