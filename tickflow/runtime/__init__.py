"""The shared runtime at the bottom of tickflow: settings, the Flink environment, Kafka table and
transaction options, bounded Kafka reading, the dead-letter record's limits, argument parsing and errors.

Everything else may import it; it imports nothing of tickflow's above it (tests/unit/test_layout.py).
"""
