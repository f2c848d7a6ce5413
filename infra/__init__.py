"""CDK constructs of the exporter's deployment; `stack.ExporterStack` composes them."""
