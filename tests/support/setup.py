"""tickflow-testkit: provider simulators and test data writers, installed beside tickflow for the demo and
the tests (``make setup``), never into the production image."""
from setuptools import find_packages, setup

setup(
    name="tickflow-testkit",
    version="0.1.0",
    description="Provider simulators and DBN writing for tickflow's demo and tests",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["tickflow_testkit", "tickflow_testkit.*"]),
    # the simulators build on tickflow's connectors (the ES sample reader, DBN constants); aiohttp and
    # databento-dbn come with tickflow itself
    install_requires=["tickflow"],
)
