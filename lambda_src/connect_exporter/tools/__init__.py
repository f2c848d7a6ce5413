"""What an operator runs, never the function: the CLI, the deployment settings synth reads, the plan and its
prices, progress on a terminal. The Lambda asset leaves this folder out (`infra.exporter.ASSET_EXCLUDE`)."""
