"""Provider clients and the replay tool that feed the raw topics."""
