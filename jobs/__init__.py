"""PyFlink jobs, one module per job, plus the pure logic they share."""
