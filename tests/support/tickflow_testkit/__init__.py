"""tickflow's test kit: local servers speaking each provider's wire format (simulators/) over the real
recorded ES trades, and the DBN writer they and the tests use. Not part of the runtime package: the
production image does not install it; the demo and ``tickflow simulate`` use it from a checkout."""
